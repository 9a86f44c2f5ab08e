/**
 * Entity states on DynamoDB: one item per entity per group, `pk = <group>#<entityId>`. The latest
 * values are top-level attributes (a lookup can project just the ones it needs) next to
 * `event_time`, `event_id`, `ingestion_time`, `contract_version`, the TTL attribute `expires_at`
 * and `version`; the tiles and the watermark are the JSON attribute `tl` (what a window lookup
 * reads), the per-shard checkpoints and recent event ids the JSON attribute `dd` (only the
 * processor reads it), both in the compact layout of entity-item-codec.ts (a write is billed by
 * the item's bytes), and in layout 3 deflated into binaries where the item passes one write unit
 * less 128 bytes (the room the processor keeps ids in, id-buckets.ts). An id bucket,
 * `pk = <group>/ids#<entityId>@<second>`, holds its decisions as an attribute per id (`i:<event id>`,
 * layouts 1 to 3) or, in layout 4, as one deflated chunk per add (`c:<digest>`); both are read.
 * A save is one PutItem on `attribute_not_exists(pk)` (new) or `version = :read` (optimistic concurrency).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { emptyState, remember } from '../core/entity-state.js';
import { ID_ROOM_MARGIN_BYTES, idBucketStartOf, isIdBucketGroup } from '../core/id-buckets.js';
import type {
  EntityKey,
  EntityState,
  EntityStore,
  EntityWrite,
  IdBucketWrite,
  LoadOptions,
  PutResult,
  RecentEvent,
  SaveResult,
  StoredEntity,
} from '../core/ports.js';
import { mapWithConcurrency } from './concurrency.js';
import {
  decodeBucketAttributes,
  decodeIds,
  decodeTiles,
  deflates,
  encodeBucketAttributes,
  encodeIds,
  encodeTiles,
  type ItemLayout,
  packAttribute,
  storedIdBytes,
  unpackAttribute,
} from './entity-item-codec.js';
import { asError, isConditionalCheckFailed, isValidationError, OnlineStoreError } from './errors.js';

export interface DynamoDbEntityStoreProps {
  readonly tableName: string;
  /** A client to use; otherwise one is created lazily from `clientConfig`. */
  readonly client?: DynamoDBClient;
  readonly clientConfig?: DynamoDBClientConfig;
  /** Writes in flight at once. @default 32 */
  readonly concurrency?: number;
  /**
   * The layout entity items and id buckets are written in (entity-item-codec.ts); all are read.
   * @default 1, until every reader of a deployment reads layout 2 (README, upgrades and rollbacks)
   */
  readonly writeLayout?: ItemLayout;
}

const BATCH_GET_MAX = 100;
/** What every projected read includes besides the requested values. */
const PROJECTED_META = ['pk', 'version', 'event_time', 'event_id', 'ingestion_time', 'contract_version'];

/** Attributes that are not latest feature values (`group` and `entity_id`: items written before 2026-11-26). */
const META = new Set([
  'pk',
  'group',
  'entity_id',
  'version',
  'expires_at',
  'event_time',
  'event_id',
  'ingestion_time',
  'contract_version',
  'tl',
  'dd',
]);

export const entityItemKey = (k: EntityKey): string => `${k.group}#${k.entityId}`;

export class DynamoDbEntityStore implements EntityStore {
  #doc?: DynamoDBDocumentClient;
  /** Write capacity units consumed by saves (ReturnConsumedCapacity), for cost measurements. */
  consumedWriteUnits = 0;
  /** Read capacity units consumed by loads (ReturnConsumedCapacity), for cost measurements. */
  consumedReadUnits = 0;
  readonly #layout: ItemLayout;
  constructor(private readonly props: DynamoDbEntityStoreProps) {
    this.#layout = props.writeLayout ?? 1;
    this.writeUnits = {
      unitBytes: WRITE_UNIT_BYTES,
      // With a version and an expiry of realistic width: they are a few bytes of the item.
      sizeOf: (key: EntityKey, state: EntityState): number => {
        const { item, idShare } = encodeItem(
          { key, state, expectedVersion: 99_999, expiresAt: 9_999_999_999 },
          this.#layout,
        );
        this.#idShare.set(state, idShare);
        return itemBytes(item);
      },
      entryBytes: (key: string, entry: RecentEvent, state: EntityState): number =>
        storedIdBytes(key, entry, state, this.#layout) * (this.#idShare.get(state) ?? 1),
      estimated: deflates(this.#layout),
    };
  }

  private get doc(): DynamoDBDocumentClient {
    this.#doc ??= DynamoDBDocumentClient.from(
      this.props.client ?? new DynamoDBClient(this.props.clientConfig ?? {}),
      {
        marshallOptions: { removeUndefinedValues: true },
      },
    );
    return this.#doc;
  }

  /**
   * One BatchGetItem per 100 keys, issued in parallel. With `options`, a read-only lookup: only the
   * named attributes (ProjectionExpression) and eventually consistent reads, at half the cost.
   */
  async load(keys: readonly EntityKey[], options?: LoadOptions): Promise<(StoredEntity | undefined)[]> {
    const found = new Map<string, Record<string, unknown>>();
    const unique = [...new Set(keys.map(entityItemKey))];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_MAX) chunks.push(unique.slice(i, i + BATCH_GET_MAX));
    await Promise.all(chunks.map((chunk) => this.batchGet(chunk, found, options)));
    // One StoredEntity per distinct item, however often its key was asked.
    const stored = new Map<string, StoredEntity>();
    return keys.map((k) => {
      const pk = entityItemKey(k);
      const item = found.get(pk);
      if (!item) return undefined;
      let entity = stored.get(pk);
      if (!entity) {
        // An id bucket by the key asked for, never by what its pk looks like.
        entity = toStored(item, isIdBucketGroup(k.group) ? idBucketStartOf(k) : undefined);
        stored.set(pk, entity);
      }
      return entity;
    });
  }

  /** BatchGetItem (consistent reads: a save must see the version last written), UnprocessedKeys retried. */
  private async batchGet(
    pks: string[],
    found: Map<string, Record<string, unknown>>,
    options?: LoadOptions,
  ): Promise<void> {
    const projection = options
      ? [...PROJECTED_META, ...options.latest, ...(options.tiles ? ['tl'] : [])]
      : undefined;
    const read = projection
      ? {
          ProjectionExpression: projection.map((_, i) => `#p${i}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(projection.map((name, i) => [`#p${i}`, name])),
          ConsistentRead: false,
        }
      : { ConsistentRead: true };
    let pending: Record<string, unknown>[] = pks.map((pk) => ({ pk }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        if (attempt > 8) throw new OnlineStoreError(`${pending.length} keys stayed unprocessed`, 'online');
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(1000, 25 * 2 ** attempt)));
      }
      const out = await this.doc.send(
        new BatchGetCommand({
          RequestItems: { [this.props.tableName]: { Keys: pending, ...read } },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      for (const c of out.ConsumedCapacity ?? []) this.consumedReadUnits += c.CapacityUnits ?? 0;
      for (const item of out.Responses?.[this.props.tableName] ?? []) found.set(String(item.pk), item);
      pending =
        (out.UnprocessedKeys?.[this.props.tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
    }
  }

  save(writes: readonly EntityWrite[]): Promise<SaveResult[]> {
    return mapWithConcurrency(writes, this.props.concurrency ?? 32, (w) => this.saveOne(w));
  }

  /**
   * Id buckets: one attribute per decision (`i:<event id>`, its JSON) or, in layout 4, one deflated
   * chunk per add (`c:<digest>`), set by UpdateItem without a read or a condition, so adding an id
   * again is harmless and no version is needed.
   */
  addIds(writes: readonly IdBucketWrite[]): Promise<PutResult[]> {
    return mapWithConcurrency(writes, this.props.concurrency ?? 32, (w) => this.addOne(w));
  }

  private async addOne(w: IdBucketWrite): Promise<PutResult> {
    // A layout-4 chunk is one attribute (a second of one entity's ids: at most 1,000 a second per
    // partition key in a shard, some 40 KB deflated, far under an item's 400 KB).
    const attributes = Object.entries(
      encodeBucketAttributes(w.entries, idBucketStartOf(w.key), this.#layout),
    );
    try {
      // An update expression holds at most 4 KB: a hundred attributes at a time.
      for (let i = 0; i < attributes.length; i += 100) {
        const chunk = attributes.slice(i, i + 100);
        const names: Record<string, string> = {};
        const values: Record<string, unknown> = { ':x': w.expiresAt };
        const sets = chunk.map(([name, value], j) => {
          names[`#i${j}`] = name;
          values[`:i${j}`] = value;
          return `#i${j} = :i${j}`;
        });
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.props.tableName,
            Key: { pk: entityItemKey(w.key) },
            UpdateExpression: `SET ${sets.join(', ')}, expires_at = :x`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        this.consumedWriteUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
      }
      return 'stored';
    } catch (error) {
      const message = `id bucket write of ${entityItemKey(w.key)} failed: ${asError(error).message}`;
      return { failed: new OnlineStoreError(message, 'online', { cause: error }) };
    }
  }

  /**
   * Per state last sized, the share of its ids' JSON bytes its item stores (below 1 where `dd` is
   * deflated): an id's bytes in the item are its JSON's, scaled by it.
   */
  readonly #idShare = new WeakMap<EntityState, number>();

  /** DynamoDB bills a write by the item's size (names and values), in units of 1 KB. */
  readonly writeUnits: NonNullable<EntityStore['writeUnits']>;

  private async saveOne(w: EntityWrite): Promise<SaveResult> {
    const { item } = encodeItem(w, this.#layout);
    try {
      const out = await this.doc.send(
        new PutCommand({
          TableName: this.props.tableName,
          Item: item,
          // A new entity must not exist yet; an existing one must still be at the version read.
          ...(w.expectedVersion === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#v = :v',
                ExpressionAttributeNames: { '#v': 'version' },
                ExpressionAttributeValues: { ':v': w.expectedVersion },
              }),
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.consumedWriteUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
      return 'saved';
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'conflict';
      const message = `write of ${entityItemKey(w.key)} failed: ${asError(error).message}`;
      // A refused item (too large, say) is refused again at every retry: the processor parks its records.
      const permanent = isValidationError(error);
      return { failed: new OnlineStoreError(message, 'online', { cause: error, permanent }) };
    }
  }
}

/** DynamoDB's write unit. */
const WRITE_UNIT_BYTES = 1024;

/**
 * The item a write puts (`itemOf`), with `tl` and `dd` deflated where the layout does and the item
 * would pass the room the processor keeps ids in without (one write unit less the margin for the
 * next events, id-buckets.ts; entity-item-codec.ts `packAttribute`), and the share of the ids' JSON
 * bytes it stores (`dd`'s bytes over its JSON's). Deflated from there, not from the unit itself:
 * ids stay in the room deflating makes, where the processor would otherwise move them.
 */
export function encodeItem(
  w: EntityWrite,
  layout: ItemLayout,
): { item: Record<string, unknown>; idShare: number } {
  const item = itemOf(w, layout);
  if (!deflates(layout) || itemBytes(item) <= WRITE_UNIT_BYTES - ID_ROOM_MARGIN_BYTES)
    return { item, idShare: 1 };
  const dd = item.dd as string;
  const packed = packAttribute(dd);
  item.tl = packAttribute(item.tl as string);
  item.dd = packed;
  return { item, idShare: typeof packed === 'string' ? 1 : packed.byteLength / Buffer.byteLength(dd) };
}

/** An entity's state from its item as stored (`bucketStart`: for an id bucket, its second). */
export const decodeItem = (item: Record<string, unknown>, bucketStart?: number): StoredEntity =>
  toStored(item, bucketStart);

/** The item a write puts: latest values as attributes, `tl`, `dd` and the metadata; no null values. */
function itemOf(w: EntityWrite, layout: ItemLayout): Record<string, unknown> {
  const { latest, maxEventTime, tiles, checkpoints, recent, floor, ep, bx, holes, copies } = w.state;
  const item: Record<string, unknown> = {
    ...(latest?.values ?? {}),
    // The key says the group and the entity; nothing repeats them (an item is billed by its bytes).
    pk: entityItemKey(w.key),
    version: w.expectedVersion + 1,
    expires_at: w.expiresAt,
    tl: encodeTiles({ maxEventTime, tiles }, layout),
    dd: encodeIds({ checkpoints, recent, floor, ep, bx, holes, copies, maxEventTime }, layout),
    ...(latest
      ? {
          event_time: latest.eventTime,
          event_id: latest.eventId,
          ingestion_time: latest.ingestionTime,
          contract_version: latest.contractVersion,
        }
      : {}),
  };
  for (const [k, v] of Object.entries(item)) if (v === null || v === undefined) delete item[k];
  return item;
}

/** DynamoDB's size of a number (its decimal text): about one byte per two significant digits, plus one. */
export function numberBytes(n: string): number {
  const digits = n.replace(/^[-+]?0*/, '').replace(/[.eE].*$|0+$/, '').length || 1;
  return Math.ceil(digits / 2) + 1;
}

/**
 * DynamoDB's item size: UTF-8 bytes of names and strings, bytes of binaries, numbers by significant
 * digits, 1 per boolean.
 */
function itemBytes(item: Record<string, unknown>): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) {
    total += Buffer.byteLength(name);
    if (typeof value === 'string') total += Buffer.byteLength(value);
    else if (value instanceof Uint8Array) total += value.byteLength;
    else if (typeof value === 'number') total += numberBytes(String(value));
    else total += 1;
  }
  return total;
}

/** An id bucket as a state (`start`: its second): its decisions in `recent`, nothing else. */
function bucketToStored(item: Record<string, unknown>, start: number): StoredEntity {
  const state = emptyState();
  for (const [id, entry] of decodeBucketAttributes(item, start)) remember(state, id, entry);
  return { state, version: 0 };
}

/** `bucketStart`: the second of an id bucket's decisions, for an id bucket. */
function toStored(item: Record<string, unknown>, bucketStart: number | undefined): StoredEntity {
  if (bucketStart !== undefined) return bucketToStored(item, bucketStart);
  const { maxEventTime, tiles } = decodeTiles(unpackAttribute(item.tl));
  const ids = decodeIds(unpackAttribute(item.dd), maxEventTime);
  const values: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(item)) if (!META.has(k)) values[k] = v as string | number | boolean;
  const state: EntityState = {
    maxEventTime,
    tiles,
    ...ids,
    latest:
      item.event_time === undefined
        ? null
        : {
            eventTime: Number(item.event_time),
            eventId: String(item.event_id),
            ingestionTime: Number(item.ingestion_time),
            contractVersion: Number(item.contract_version),
            values,
          },
  };
  return { state, version: Number(item.version ?? 0) };
}
