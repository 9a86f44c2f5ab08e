/**
 * The ports the processing and lookup cores speak to. Contracts every implementation keeps:
 * - results come back in request order, one per request item;
 * - a missing key is an explicit `undefined`, never an omitted entry;
 * - times are epoch milliseconds, UTC;
 * - a failure of one item is reported for that item (`{ failed }`), not thrown for the whole call,
 *   so the caller can retry exactly what did not happen.
 */

export type FeatureValue = string | number | boolean | null;

/** The latest feature values of one entity in one group, as of one event. */
export interface FeatureRecord {
  readonly group: string;
  readonly entityId: string;
  readonly eventTime: number;
  readonly eventId: string;
  readonly ingestionTime: number;
  readonly contractVersion: number;
  readonly values: Readonly<Record<string, FeatureValue>>;
  /** Epoch seconds after which the online copy is expired (group TTL from event time). */
  readonly expiresAt: number;
}

export interface EntityKey {
  readonly group: string;
  readonly entityId: string;
}

export type Failed = { readonly failed: Error };
/** Result of a plain write: done, or failed. */
export type PutResult = 'stored' | Failed;
/** `applied`: the write is now the stored value; `stale`: a newer (or the same) event is already stored. */
export type LatestWriteResult = 'applied' | 'stale' | Failed;

export interface OnlineStore {
  /**
   * Stores each record unless the stored one is newer by (eventTime, eventId); equal means the same
   * event, so a redelivered write is a no-op. At most one record per entity key per call.
   */
  putLatest(records: readonly FeatureRecord[]): Promise<LatestWriteResult[]>;
  /** The stored records, `undefined` for a key never written. Expiry is the caller's decision. */
  getLatest(keys: readonly EntityKey[]): Promise<(FeatureRecord | undefined)[]>;
}

/** What became of a record that owns its event. */
export type ClaimOutcome = 'applied' | 'late';

/**
 * "Record `recordId` carries event `eventKey`, with this outcome." The first record to claim an
 * event id owns it; the ledger is also the audit of what was applied and what was late.
 */
export interface EventClaim {
  readonly eventKey: string;
  readonly recordId: string;
  readonly eventTime: number;
  readonly outcome: ClaimOutcome;
}
/**
 * `claimed`: this record owns the event (first time, or the same record again on redelivery);
 * `duplicateOf`: another record already owns it (a producer retry or a duplicate send).
 */
export type ClaimResult = 'claimed' | { readonly duplicateOf: string } | Failed;

export interface EventLedger {
  claim(claims: readonly EventClaim[]): Promise<ClaimResult[]>;
}

/** One row of a group's offline feature history. */
export interface OfflineRow {
  readonly entityId: string;
  readonly eventTime: number;
  readonly eventId: string;
  readonly ingestionTime: number;
  readonly contractVersion: number;
  readonly values: Readonly<Record<string, FeatureValue>>;
}

/**
 * Rows of one group and one UTC date (`dt`). `batchId` names the records they came from, so a
 * redelivered batch rewrites the same object instead of adding a copy.
 */
export interface OfflineBatch {
  readonly group: string;
  readonly dt: string;
  readonly batchId: string;
  readonly rows: readonly OfflineRow[];
}

export interface OfflineSink {
  append(batches: readonly OfflineBatch[]): Promise<PutResult[]>;
}

/**
 * A record, or part of one, that was not applied, kept with its reason and its raw payload:
 * `quarantine` (invalid), `late` (beyond a group's allowed lateness), `duplicate` (its event id is
 * owned by another record). At most one entry per record and kind, so redelivery rewrites it.
 */
export interface SideOutputEntry {
  readonly kind: 'quarantine' | 'late' | 'duplicate';
  readonly recordId: string;
  readonly shardId: string;
  readonly partitionKey: string;
  readonly arrivalTime: number;
  readonly reason: string;
  /** For `late`: the groups it was late for (an event can be late for one group and not another). */
  readonly groups?: readonly string[];
  /** The record's bytes, base64, exactly as they arrived. */
  readonly data: string;
}

export interface SideOutput {
  put(entries: readonly SideOutputEntry[]): Promise<PutResult[]>;
}

export const isFailed = (r: unknown): r is Failed => typeof r === 'object' && r !== null && 'failed' in r;
