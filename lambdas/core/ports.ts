/**
 * The ports the processing and lookup cores speak to. Contracts every implementation keeps:
 * - results come back in request order, one per request item;
 * - a missing key is an explicit `undefined`, never an omitted entry;
 * - times are epoch milliseconds, UTC;
 * - a failure of one item is reported for that item (`{ failed }`), not thrown for the whole call,
 *   so the caller can retry exactly what did not happen.
 */

import type { OfflineColumn } from '../../schemas/index.js';
import type { TileSet } from './tiles.js';

export type FeatureValue = string | number | boolean | null;

export interface EntityKey {
  readonly group: string;
  readonly entityId: string;
}

export type Failed = { readonly failed: Error };
/** Result of a plain write: done, or failed. */
export type PutResult = 'stored' | Failed;

/** The latest values of an entity in a group: those of its newest event by (eventTime, eventId). */
export interface LatestValues {
  readonly eventTime: number;
  readonly eventId: string;
  readonly ingestionTime: number;
  readonly contractVersion: number;
  readonly values: Readonly<Record<string, FeatureValue>>;
}

/** What became of an event, remembered by the entity that owns its partition key. */
export interface RecentEvent {
  /** the record that carried it: `<shardId>:<sequenceNumber>` */
  readonly r: string;
  /** event time */
  readonly t: number;
  /** groups it was late for (absent: none) */
  readonly lg?: readonly string[];
}

/**
 * Everything the platform keeps online about one entity in one group. One item, rewritten whole
 * by one conditional write per batch.
 */
export interface EntityState {
  /** Newest event time applied: the entity's watermark is this minus the group's allowed lateness. */
  maxEventTime: number | null;
  latest: LatestValues | null;
  tiles: TileSet;
  /** Per source shard, the zero-padded sequence number of the last record this entity has processed. */
  checkpoints: Record<string, string>;
  /**
   * Decisions on event ids within the lateness horizon (only in the group keyed by the partition
   * key), under their id qualified by the second of their event time: the ids of the entity's last
   * batch and the settled ones that fit its write units; the rest are in id buckets (id-buckets.ts),
   * which hold theirs in this map too, under the bare id.
   */
  recent: Record<string, RecentEvent>;
  /**
   * Event time below which ids were evicted to keep the item bounded (`maxRecentEvents`): an event
   * older than this is decided as late, never applied twice. Absent until the first eviction.
   */
  floor?: number;
  /**
   * Moves of ids to id buckets (authority groups), by epoch: wall time `w` of the epoch's first move
   * and the newest event time `m` among the ids it moved. Before any of an epoch's buckets can expire,
   * the floor rises above `m` and the epoch goes (see id-buckets.ts).
   */
  ep?: { w: number; m: number }[];
  /**
   * The latest TTL (epoch seconds) of an id bucket this entity wrote: its item expires no earlier
   * (id-buckets.ts `itemExpiresAt`), even once `ep` is gone. Absent until the first move.
   */
  bx?: number;
  /**
   * Records of a shard this entity went past without applying them, because their authority parked
   * them whole in that delivery (`holeKey`: shard and padded sequence number, to the wall time it
   * went past, epoch ms): one delivered again is applied despite the checkpoint. Kept two days (a
   * record lives a day in the stream). Absent when there is none.
   */
  holes?: Record<string, number>;
  /**
   * Redrive copies completing an entry parked for this entity's group that it applied (`holeKey` of
   * the copy, to the wall time it applied it), kept as long as holes: a copy parked again for the
   * group, that the entity then went past with a later record of its shard, is applied when
   * delivered again, which the checkpoint alone would take for done (process-batch.ts, step 7).
   * Absent when there is none.
   */
  copies?: Record<string, number>;
}

export interface StoredEntity {
  readonly state: EntityState;
  /** Optimistic-concurrency version; a write must name the version it read. */
  readonly version: number;
}

export interface EntityWrite {
  readonly key: EntityKey;
  readonly state: EntityState;
  /** The version read; 0 for an entity never written. */
  readonly expectedVersion: number;
  /** Epoch seconds after which the item may be deleted (TTL). */
  readonly expiresAt: number;
}

/** `conflict`: someone else wrote the entity since it was read; read again and recompute. */
export type SaveResult = 'saved' | 'conflict' | Failed;

/**
 * What a reader needs of the entities (a projection): the named latest values, and the tiles or
 * not. A store may return more; it must return at least this.
 */
export interface LoadOptions {
  readonly latest: readonly string[];
  readonly tiles: boolean;
}

export interface EntityStore {
  /** The stored entities, `undefined` for a key never written. Without `options`, everything. */
  load(keys: readonly EntityKey[], options?: LoadOptions): Promise<(StoredEntity | undefined)[]>;
  /** Saves each write iff the stored version still equals `expectedVersion`. */
  save(writes: readonly EntityWrite[]): Promise<SaveResult[]>;
  /**
   * Adds decisions to id buckets (lambdas/core/id-buckets.ts), making them as needed: blind and
   * idempotent (an id added again holds the same decision), so no version is read or checked. A
   * bucket is loaded like an entity, its decisions in `recent`. Without it, ids stay in the entity.
   */
  addIds?(writes: readonly IdBucketWrite[]): Promise<PutResult[]>;
  /**
   * How the store bills a write: the size of a state as stored, and the bytes of one write unit.
   * The processor keeps an authority entity's event ids in its item while they fit in the units
   * the write costs anyway, and moves the rest to id buckets; without it, they stay in the item.
   */
  readonly writeUnits?: {
    readonly unitBytes: number;
    sizeOf(key: EntityKey, state: EntityState): number;
    /**
     * The bytes one decision (`recent[key] = entry`) takes in the stored item of `state` (the last
     * state sized, where `estimated`).
     */
    entryBytes(key: string, entry: RecentEvent, state: EntityState): number;
    /**
     * Whether `entryBytes` is an estimate: the store deflates the ids with the rest of the item
     * (DynamoDB layout 3), so one id's bytes depend on the others. The processor then sizes the item
     * again after a move, and moves more while it is still over.
     */
    readonly estimated?: boolean;
  };
}

export interface IdBucketWrite {
  readonly key: EntityKey;
  /** Event id (or retry key) -> its decision. */
  readonly entries: Readonly<Record<string, RecentEvent>>;
  /** Epoch seconds after which the bucket may be deleted (TTL); a later add extends it. */
  readonly expiresAt: number;
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
 * Rows of one offline dataset partition (a feature group's history, or a contract's raw events)
 * for one UTC date. `batchId` names the records they came from, so a redelivered batch rewrites
 * the same object instead of adding a copy.
 */
export interface OfflineBatch {
  /** The dataset's key prefix: `features/group=<group>/` or `events/contract=<contract>/`. */
  readonly prefix: string;
  readonly dt: string;
  readonly batchId: string;
  readonly columns: readonly OfflineColumn[];
  /**
   * Column-major, as Parquet stores it: `cells[i]` holds column `columns[i]`, one value per row
   * (timestamps as epoch milliseconds, null where the event has no value).
   */
  readonly cells: readonly (readonly unknown[])[];
}

/** An offline batch's rows as objects keyed by column name (for tests and tools, not the hot path). */
export function rowsOf(batch: Pick<OfflineBatch, 'columns' | 'cells'>): Record<string, unknown>[] {
  const n = batch.cells[0]?.length ?? 0;
  return Array.from({ length: n }, (_, r) =>
    Object.fromEntries(batch.columns.map((c, i) => [c.name, batch.cells[i]?.[r] ?? null])),
  );
}

/** Rows keyed by column name -> column-major cells in the order of `columns` (absent -> null). */
export const cellsOf = (
  columns: readonly OfflineColumn[],
  rows: readonly Readonly<Record<string, unknown>>[],
): unknown[][] => columns.map((c) => rows.map((r) => r[c.name] ?? null));

export interface OfflineSink {
  append(batches: readonly OfflineBatch[]): Promise<PutResult[]>;
  /**
   * Keeps objects that still cannot be written as their records near the age the event source
   * mapping gives up at somewhere they can be (the side-output bucket's `parked-rows/`), for
   * `npm run redrive` to put in place (process-batch.ts step 8). A sink without it cannot park.
   */
  park?(batches: readonly OfflineBatch[]): Promise<PutResult[]>;
}

/**
 * A record, or part of one, that was not applied, kept with its reason and its raw payload:
 * `quarantine` (invalid), `late` (beyond a group's allowed lateness), `duplicate` (its event id is
 * owned by another record), `parked` (an entity it feeds cannot be written: a permanent failure; see
 * process-batch.ts; `npm run redrive` finishes it once the cause is fixed). At most one entry per
 * record and kind, so redelivery rewrites it.
 */
export interface SideOutputEntry {
  readonly kind: 'quarantine' | 'late' | 'duplicate' | 'parked';
  readonly recordId: string;
  readonly shardId: string;
  readonly partitionKey: string;
  readonly arrivalTime: number;
  readonly reason: string;
  /**
   * For `late`: the groups it was late for (an event can be late for one group and not another).
   * For `parked`: the groups it is still to be applied to; absent, all of them (nothing of it was).
   */
  readonly groups?: readonly string[];
  /**
   * The record's outcome. `late`: `late` if late for every group it feeds, else `applied` (late for
   * some only). `parked`: `quarantined` if nothing of it was applied, else `applied` (all but `groups`).
   */
  readonly outcome?: 'late' | 'applied' | 'quarantined';
  /** The record's bytes, base64, exactly as they arrived. */
  readonly data: string;
  /** For `parked`: the SHA-256 (hex) of those bytes, which a redrive completing it must carry (decode.ts). */
  readonly dataSha256?: string;
}

/** A parked entry as a redrive's completion reads it back. */
export interface ParkedEntry {
  /** The record parked. */
  readonly recordId: string;
  /** The groups it is still to be applied to; absent, all (then a redrive is a plain re-put). */
  readonly groups?: readonly string[];
  readonly dataSha256?: string;
  /**
   * Set once a redrive completed it: the record that did (the entry itself is gone then; `groups`
   * says whether it was parked for some groups, not which; `dataSha256` is the completing copy's,
   * for completions written from 2026-11-26 on).
   */
  readonly completedBy?: string;
  /**
   * Set once a redrive narrowed it (applied it to some of its groups): the record that did (the last
   * one, kept in its completion too from 2026-11-26 on).
   */
  readonly narrowedBy?: string;
}

export interface SideOutput {
  put(entries: readonly SideOutputEntry[]): Promise<PutResult[]>;
  /**
   * Parked entries by key (`sideOutputKey`), in request order, or what became of them once
   * completed (`completedBy`); `undefined` where there is neither.
   */
  parked(keys: readonly string[]): Promise<(ParkedEntry | undefined | Failed)[]>;
  /**
   * Marks parked entries completed by the given records, then removes them (idempotent: a
   * redelivery of the completing record does it again).
   */
  completeParked(
    completions: readonly {
      readonly key: string;
      readonly by: string;
      readonly partial: boolean;
      /** The bytes the entry names (and the completing copy carries): a later copy of them is a duplicate. */
      readonly dataSha256: string;
      /** The copy that last narrowed the entry, if another: a replay of it keeps its outcome. */
      readonly narrowedBy?: string;
    }[],
  ): Promise<PutResult[]>;
  /**
   * Takes groups off parked entries (their entities applied the record since), deleting an entry
   * left with none; a missing entry is no error.
   */
  unparkGroups(
    entries: readonly { readonly key: string; readonly groups: readonly string[] }[],
  ): Promise<PutResult[]>;
  /** Narrows parked entries to the groups still refusing them (a redrive applied the others). */
  narrowParked(
    entries: readonly { readonly key: string; readonly groups: readonly string[]; readonly by: string }[],
  ): Promise<PutResult[]>;
}

export const isFailed = (r: unknown): r is Failed => typeof r === 'object' && r !== null && 'failed' in r;

/**
 * Whether a failure is the item's, not the store's: every retry of the same write would meet it
 * again (DynamoDB refusing an entity item, as too large say, or a computation that throws on the
 * entity's data). The processor parks the records concerned instead of failing the batch, so that
 * they never hold up their shard; any other failure is retried. An error says so with `permanent: true`.
 */
export const isPermanent = (error: Error): boolean => (error as { permanent?: unknown }).permanent === true;

/**
 * Replaces PII values with stable tokens (keyed HMAC) before anything is stored: the same value
 * always gives the same token, so joins and distinct counts still work; the value cannot be read back.
 */
export interface Tokenizer {
  /** Tokens in request order; `field` is part of the MAC so equal values of different fields differ. */
  tokenize(items: readonly { readonly field: string; readonly value: string }[]): Promise<string[]>;
}

/** A payload encrypted under the PII key (envelope encryption): only holders of that key can read it. */
export interface SealedPayload {
  readonly alg: 'AES-256-GCM';
  /** The data key, encrypted by KMS (base64), or the id of a local key. */
  readonly encryptedKey: string;
  /** The KMS encryption context of the data key (absent: a local key, or sealed before contexts). */
  readonly context?: Readonly<Record<string, string>>;
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
}

export interface PayloadSealer {
  seal(plaintext: Uint8Array): Promise<SealedPayload>;
  unseal(sealed: SealedPayload): Promise<Uint8Array>;
}
