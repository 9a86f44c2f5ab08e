/**
 * In-memory implementations of the ports, with the same contracts as the AWS ones: for unit
 * tests, the processor benchmark, and as the reference the store adapters are tested against.
 */
import { featureGroupsByName } from '../../schemas/index.js';
import { sideOutputKey } from '../core/batch-outputs.js';
import { emptyState, remember } from '../core/entity-state.js';
import { isIdBucketGroup } from '../core/id-buckets.js';
import { entityKeyOf } from '../core/latest-values.js';
import {
  type EntityKey,
  type EntityState,
  type EntityStore,
  type EntityWrite,
  type FeatureValue,
  type IdBucketWrite,
  type LoadOptions,
  type OfflineBatch,
  type OfflineRow,
  type OfflineSink,
  type ParkedEntry,
  type PutResult,
  type RecentEvent,
  rowsOf,
  type SaveResult,
  type SideOutput,
  type SideOutputEntry,
  type StoredEntity,
} from '../core/ports.js';

export class InMemoryEntityStore implements EntityStore {
  /**
   * Per entity: the state as saved (the saver hands it over and does not touch it again), the same
   * as JSON (what `load` parses a copy from), its version and expiry.
   */
  readonly items = new Map<string, StoredEntity & { readonly json: string; readonly expiresAt: number }>();
  writes = 0;
  /** Id buckets deleted by their TTL (with a clock). */
  expired = 0;
  /**
   * With a wall clock, id buckets past their `expiresAt` are deleted when next touched, as by
   * DynamoDB's TTL (entity items' TTL is in event time: tests that need it delete them themselves).
   * The clock is asked for the bucket's time: a test may run each entity's consumer on its own.
   */
  constructor(private readonly options: { readonly bucketClock?: (bucket: EntityKey) => number } = {}) {}

  private live(k: EntityKey) {
    const key = entityKeyOf(k);
    const item = this.items.get(key);
    const now = this.options.bucketClock?.(k);
    if (item && now !== undefined && isIdBucketGroup(k.group) && item.expiresAt * 1000 < now) {
      this.items.delete(key);
      this.expired++;
      return undefined;
    }
    return item;
  }
  /** Billed like DynamoDB, in units of 1 KB, with the JSON of the state standing in for the item. */
  readonly writeUnits = {
    unitBytes: 1024,
    sizeOf: (key: EntityKey, state: EntityState): number =>
      Buffer.byteLength(entityKeyOf(key)) + Buffer.byteLength(JSON.stringify(state)),
    // `"<key>":<entry>,` in the JSON of `recent`.
    entryBytes: (key: string, entry: RecentEvent): number =>
      Buffer.byteLength(JSON.stringify(key)) + Buffer.byteLength(JSON.stringify(entry)) + 2,
  };
  /** Returns whole entities whatever the projection asked (the contract allows more). */
  async load(keys: readonly EntityKey[], _options?: LoadOptions): Promise<(StoredEntity | undefined)[]> {
    // A copy, as a real store returns: callers must not share state with the store. JSON, as the
    // DynamoDB adapter stores the state (so a value JSON cannot keep would show here too).
    return keys.map((k) => {
      const item = this.live(k);
      return item ? { state: JSON.parse(item.json) as EntityState, version: item.version } : undefined;
    });
  }
  async save(writes: readonly EntityWrite[]): Promise<SaveResult[]> {
    return writes.map((w) => {
      const current = this.live(w.key);
      if ((current?.version ?? 0) !== w.expectedVersion) return 'conflict';
      this.writes++;
      this.items.set(entityKeyOf(w.key), {
        state: w.state,
        json: JSON.stringify(w.state),
        version: w.expectedVersion + 1,
        expiresAt: w.expiresAt,
      });
      return 'saved';
    });
  }
  /** Merges decisions into id buckets, made as needed (blind and idempotent, like the DynamoDB adapter). */
  async addIds(writes: readonly IdBucketWrite[]): Promise<PutResult[]> {
    return writes.map((w) => {
      const key = entityKeyOf(w.key);
      const current = this.live(w.key);
      const state = current ? (JSON.parse(current.json) as EntityState) : emptyState();
      for (const [id, entry] of Object.entries(w.entries)) remember(state, id, entry);
      this.writes++;
      this.items.set(key, {
        state,
        json: JSON.stringify(state),
        version: (current?.version ?? 0) + 1,
        expiresAt: Math.max(current?.expiresAt ?? 0, w.expiresAt),
      });
      return 'stored';
    });
  }
  state(group: string, entityId: string) {
    return this.items.get(entityKeyOf({ group, entityId }))?.state;
  }
}

/** An in-memory offline object's key, as the S3 sink names it (less `.parquet`). */
const sinkKey = (b: OfflineBatch) => `${b.prefix}dt=${b.dt}/${b.batchId}`;

export class InMemoryOfflineSink implements OfflineSink {
  /** Keyed like the S3 objects: prefix + dt + batchId, so a rewrite replaces. */
  readonly objects = new Map<string, OfflineBatch>();
  /** Objects parked (`park`), by the same keys, until `redriveParked` puts them in place. */
  readonly parked = new Map<string, OfflineBatch>();
  async append(batches: readonly OfflineBatch[]): Promise<PutResult[]> {
    return batches.map((b) => {
      this.objects.set(sinkKey(b), b);
      return 'stored';
    });
  }
  async park(batches: readonly OfflineBatch[]): Promise<PutResult[]> {
    return batches.map((b) => {
      this.parked.set(sinkKey(b), b);
      return 'stored';
    });
  }
  /** What `npm run redrive` does with parked objects: puts each in place, then forgets it. */
  redriveParked(): number {
    const n = this.parked.size;
    for (const [key, b] of this.parked) this.objects.set(key, b);
    this.parked.clear();
    return n;
  }
  /**
   * A group's feature-history rows, as entity id, event id and time, and latest values. `entity`:
   * the entity column, for a group not in the schemas (a test's). @default the schemas' group's
   */
  rows(group: string, entity = featureGroupsByName.get(group)?.entity.name ?? ''): OfflineRow[] {
    return [...this.objects.values()]
      .filter((b) => b.prefix === `features/group=${group}/`)
      .flatMap((b) => rowsOf(b))
      .map(({ [entity]: entityId, event_id, event_time, ingestion_time, contract_version, ...values }) => ({
        entityId: String(entityId),
        eventId: String(event_id),
        eventTime: Number(event_time),
        ingestionTime: Number(ingestion_time),
        contractVersion: Number(contract_version),
        values: values as Record<string, FeatureValue>,
      }));
  }
  /** A contract's raw-event rows. */
  events(contract: string): Readonly<Record<string, unknown>>[] {
    return [...this.objects.values()]
      .filter((b) => b.prefix === `events/contract=${contract}/`)
      .flatMap((b) => rowsOf(b));
  }
}

export class InMemorySideOutput implements SideOutput {
  /** By key, as in S3 (`sideOutputKey`). */
  readonly entries = new Map<string, SideOutputEntry>();
  async put(entries: readonly SideOutputEntry[]): Promise<PutResult[]> {
    return entries.map((e) => {
      this.entries.set(sideOutputKey(e), e);
      return 'stored';
    });
  }
  /** Parked entries completed, by their key: the record of the entry and the one that completed it. */
  readonly completed = new Map<string, ParkedEntry>();
  async parked(keys: readonly string[]): Promise<(ParkedEntry | undefined)[]> {
    return keys.map((key) => {
      const e = this.entries.get(key);
      if (e?.kind !== 'parked') return this.completed.get(key);
      return {
        recordId: e.recordId,
        ...(e.groups ? { groups: e.groups } : {}),
        ...(e.dataSha256 ? { dataSha256: e.dataSha256 } : {}),
        ...(this.narrowedBy.has(key) ? { narrowedBy: this.narrowedBy.get(key) as string } : {}),
      };
    });
  }
  async unparkGroups(entries: readonly { key: string; groups: readonly string[] }[]): Promise<PutResult[]> {
    return entries.map(({ key, groups }) => {
      const e = this.entries.get(key);
      if (e?.kind !== 'parked' || !e.groups) return 'stored';
      const left = e.groups.filter((g) => !groups.includes(g));
      if (left.length === 0) this.entries.delete(key);
      else this.entries.set(key, { ...e, groups: left });
      return 'stored';
    });
  }
  /** Entries narrowed by a redrive: the record that did, by key. */
  readonly narrowedBy = new Map<string, string>();
  async narrowParked(
    narrowings: readonly { key: string; groups: readonly string[]; by: string }[],
  ): Promise<PutResult[]> {
    return narrowings.map(({ key, groups, by }) => {
      const e = this.entries.get(key);
      if (e?.kind === 'parked') {
        this.entries.set(key, { ...e, groups: [...groups], outcome: 'applied' });
        this.narrowedBy.set(key, by);
      }
      return 'stored';
    });
  }
  async completeParked(completions: Parameters<SideOutput['completeParked']>[0]): Promise<PutResult[]> {
    return completions.map(({ key, by, partial, dataSha256, narrowedBy }) => {
      const e = this.entries.get(key);
      if (e?.kind === 'parked') {
        this.completed.set(key, {
          recordId: e.recordId,
          completedBy: by,
          ...(partial ? { groups: [] } : {}),
          dataSha256,
          ...(narrowedBy ? { narrowedBy } : {}),
        });
        this.entries.delete(key);
      }
      return 'stored';
    });
  }
  ofKind(kind: SideOutputEntry['kind']) {
    return [...this.entries.values()].filter((e) => e.kind === kind);
  }
}
