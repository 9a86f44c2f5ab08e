/**
 * How an entity state is laid out in the two JSON attributes of its DynamoDB item, compactly.
 * DynamoDB bills a write by the item's bytes in 1 KB units and every entity item is rewritten whole
 * at each batch that touches it, so a byte saved here is saved on nearly every write: a customer
 * item held about 1,140 bytes before any event id (2 units a write); laid out as below, about 750,
 * which leaves room for a few ids in one unit. Decoding also reads the earlier layouts (the plain
 * `{"maxEventTime","tiles"}` and `{"checkpoints","recent","floor","ep"}`, and ids in `i`): the state
 * round-trips exactly either way.
 *
 * `tl`, the watermark and the tiles (what a window lookup reads):
 *   {"m": maxEventTime, "n": [field, …], "v": [distinct value, …],
 *    "z": {"<tile ms>": [[start / tile ms, events, {"<k>": partial}?], …]}}
 *   where a partial is under its field's index `k` in `n`, keeps its distinct values `d` as their
 *   indexes in `v`, leaves out its count `c` when it counted every event of its tile (the usual
 *   case), and keeps the time `lt` of its last value from the tile's start. A customer a week old
 *   has some forty tiles: its field names were repeated in each, and each merchant it paid in its
 *   hourly and its daily tiles (at one payment an hour, 5.0 KB of tiles become 3.2 KB). Items in
 *   layout 1 (below) have no `n`: partials by name, `lt` in full (both are read).
 *   A tile whose start is not a multiple of its size (never written by the processor) is kept as is.
 * `dd`, the exactly-once state (only the processor reads it):
 *   {"s": [shard id, …], "c": [checkpoint of that shard without its padding zeros, or null, …],
 *    "j": [[event id, age, shard index, position, late groups?], …],
 *    "u": {"<key>": entry, …}, "f": floor, "ep": [{"w","m"}, …], "bx": newest bucket TTL}
 *   An id's entry in `j` is stored without what can be rebuilt: its key is the id qualified by the
 *   second of its event time (entity-state.ts `secondKey`) and its record id is `<shard>:<sequence>`.
 *   Its event time is stored as its *age*, how far it is before the watermark `m` of `tl` (the
 *   event time itself when there is none); its sequence number as its *position*, `-` and how far
 *   it is before its shard's checkpoint in base 36 (the number itself, in decimal, when that is not
 *   below it). A Kinesis sequence number has 56 digits and the records of an hour differ in about
 *   the last 35 of them, so an id takes about 60 bytes instead of about 100: more of them stay in the
 *   unit the item costs anyway. Items in layout 1 hold `i`, the same entries with the event time
 *   and the sequence number in full, checkpoints in decimal (`c`) and shards by their ids.
 *   Any other entry (an item's unqualified keys from before 2026-11-26, a record id of another shape)
 *   is kept in `u` as it is. Absent parts are left out.
 * Layout 3 stores the same `tl` and `dd`, each deflated into a binary attribute where the item would
 * pass, as JSON, the room the processor keeps ids in (one write unit less a margin for the next
 * events; `packAttribute`): a binary is billed by its bytes, and this JSON (digits, base 36,
 * repeated keys, hex ids) deflates to a third to a half of them.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { secondKey, setOwn, unqualified } from '../core/entity-state.js';
import type { EntityState, RecentEvent } from '../core/ports.js';
import { SEQUENCE_WIDTH } from '../core/sequence.js';
import type { FieldPartial, Tile, TileSet } from '../core/tiles.js';

type Scalar = string | number;

/**
 * The layouts an item can be written in; every release reads all of them. 1: the compact layout
 * releases wrote until 87a24e2 (ids in `i` in full, partials by field name, buckets' decisions as
 * `{r, t, lg}`), read by releases from 704c214 on; 2: the one described above, read from 0d33549
 * on; 3: layout 2, with `tl` and `dd` deflated in an item that would pass one write unit less 128
 * bytes without (`packAttribute`), read from 45f8a52 on; 4: layout 3, with the ids a move takes to
 * an id bucket in one deflated attribute (`encodeBucketChunk`), read from 2ced32a on. A deployment writes a layout only
 * once none of its functions will run a release that cannot read it (README, upgrades
 * and rollbacks): the processor's `ENTITY_ITEM_LAYOUT` chooses, and every encoder here takes the
 * layout explicitly.
 */
export type ItemLayout = 1 | 2 | 3 | 4;
export const ITEM_LAYOUTS: readonly ItemLayout[] = [1, 2, 3, 4];
/** The newest layout (what new environments and local runs write). */
export const LATEST_ITEM_LAYOUT: ItemLayout = 4;

/** Whether items of `layout` deflate `tl` and `dd` where that saves write units (layout 3 on). */
export const deflates = (layout: ItemLayout): boolean => layout >= 3;

/**
 * An attribute's JSON as layout 3 stores it in an item past the room ids are kept in: raw deflate
 * (RFC 1951), as a binary attribute, where that is shorter, else the JSON itself. DynamoDB bills a
 * binary by its bytes, and the JSON of a busy customer (tiles of distinct merchants; ids: hex,
 * digits, base 36, repeated keys) deflates to a third to a half (an id under a UUID event id, about
 * 80 bytes of JSON, to 28 to 35), so more of its ids stay in the units it costs anyway. An item
 * within that room is left as JSON: its write costs the one unit either way, and deflating would
 * only spend CPU.
 */
export function packAttribute(json: string): string | Uint8Array {
  const kept = recentlyPacked.get(json);
  if (kept !== undefined) return kept;
  const deflated = deflateRawSync(json);
  const packed = deflated.byteLength < Buffer.byteLength(json) ? new Uint8Array(deflated) : json;
  if (recentlyPacked.size >= PACKED_KEPT) recentlyPacked.delete(recentlyPacked.keys().next().value as string);
  recentlyPacked.set(json, packed);
  return packed;
}

/**
 * The last attributes packed, by their JSON: the processor sizes an item past the room up to five
 * times while it moves ids out, its `tl` unchanged (its save comes later, after the group's other
 * entities, and rarely finds its attributes here).
 */
const recentlyPacked = new Map<string, string | Uint8Array>();
const PACKED_KEPT = 8;

/** Longest JSON an attribute inflates to: far past any item (400 KB), never a bomb's worth. */
const MAX_UNPACKED_BYTES = 16 * 1024 * 1024;

/** The JSON of a stored `tl` or `dd`: a string as it is, a binary (layout 3) inflated. */
export function unpackAttribute(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Uint8Array)
    return inflateRawSync(value, { maxOutputLength: MAX_UNPACKED_BYTES }).toString('utf8');
  return String(value);
}

type Tiles = Pick<EntityState, 'maxEventTime' | 'tiles'>;
type Ids = Pick<EntityState, 'checkpoints' | 'recent' | 'floor' | 'ep' | 'bx' | 'holes' | 'copies'>;
/** What the ids are stored relative to: the watermark (`tl`'s `m`) and the checkpoints. */
type IdBase = Pick<EntityState, 'maxEventTime' | 'checkpoints'>;

/** A tile as stored: [start / tile ms, events] or [start / tile ms, events, partials]. */
type CompactTile =
  | [number, number]
  | [number, number, Record<string, Omit<FieldPartial, 'c'> & { c?: number }>];
/** An id as stored: [event id, age or event time, shard index, position] (+ late groups); in `i`, time and sequence in full. */
type CompactId = [string, number, number, string] | [string, number, number, string, readonly string[]];

export function encodeTiles({ maxEventTime, tiles }: Tiles, layout: ItemLayout): string {
  const z: Record<string, (CompactTile | Tile)[]> = {};
  const names = new Table<string>();
  const values = new Table<Scalar>();
  const refs: Refs | undefined =
    layout === 1
      ? undefined
      : { field: (f) => String(names.indexOf(f, f)), value: (v) => values.indexOf(`${typeof v}:${v}`, v) };
  for (const [size, list] of Object.entries(tiles)) {
    const ms = Number(size);
    setOwn(
      z,
      size,
      list.map((tile) => compactTile(tile, ms, refs)),
    );
  }
  return JSON.stringify({
    m: maxEventTime ?? undefined,
    n: names.list.length > 0 ? names.list : undefined,
    v: values.list.length > 0 ? values.list : undefined,
    z,
  });
}

/** Values stored once per item, in order of first use, referred to by their index. */
class Table<V> {
  readonly list: V[] = [];
  readonly #index = new Map<string, number>();
  indexOf(key: string, value: V): number {
    let k = this.#index.get(key);
    if (k === undefined) {
      k = this.list.push(value) - 1;
      this.#index.set(key, k);
    }
    return k;
  }
}

interface Refs {
  readonly field: (field: string) => string;
  readonly value: (value: Scalar) => number;
}

/** `refs`: the item's tables (layout 2); without them, partials by name and times in full (layout 1). */
function compactTile(tile: Tile, ms: number, refs: Refs | undefined): CompactTile | Tile {
  const index = tile.t / ms;
  if (!Number.isSafeInteger(index)) return tile;
  let partials: Record<string, Omit<FieldPartial, 'c'> & { c?: number }> | undefined;
  for (const [field, p] of Object.entries(tile.f)) {
    partials ??= {};
    const { c, lt, d, ...rest } = p;
    const partial = {
      ...(c === tile.n ? {} : { c }),
      ...(lt === undefined ? {} : { lt: refs ? lt - tile.t : lt }),
      ...(d === undefined ? {} : { d: refs ? d.map(refs.value) : d }),
      ...rest,
    };
    if (refs) partials[refs.field(field)] = partial;
    else setOwn(partials, field, partial);
  }
  return partials ? [index, tile.n, partials] : [index, tile.n];
}

export function decodeTiles(json: string | undefined): Tiles {
  const raw = JSON.parse(json ?? '{}') as
    | { m?: number; n?: string[]; v?: Scalar[]; z?: Record<string, (CompactTile | Tile)[]> }
    | Partial<Tiles>;
  if (!('z' in raw)) {
    const plain = raw as Partial<Tiles>;
    return { maxEventTime: plain.maxEventTime ?? null, tiles: plain.tiles ?? {} };
  }
  const tiles: TileSet = {};
  const { n: names, v: values } = raw;
  for (const [size, list] of Object.entries(raw.z ?? {})) {
    const ms = Number(size);
    setOwn(
      tiles,
      size,
      list.map((x) =>
        Array.isArray(x) ? (names ? expandTile(x, ms, names, values) : expandOldTile(x, ms)) : x,
      ),
    );
  }
  return { maxEventTime: raw.m ?? null, tiles };
}

/** The parsed tile: its partials under their fields' names, with their counts and times in full. */
function expandTile(
  [index, n, partials]: CompactTile,
  ms: number,
  names: readonly string[],
  values: readonly Scalar[] | undefined,
): Tile {
  const t = index * ms;
  const f: Record<string, FieldPartial> = {};
  for (const k in partials) {
    const p = (partials as Record<string, Omit<FieldPartial, 'c'> & { c?: number }>)[k] as FieldPartial;
    if (p.c === undefined) p.c = n;
    if (p.lt !== undefined) p.lt += t;
    // Distinct values by index in `v` (an item with a field table and no `v` holds them as they are).
    if (p.d !== undefined && values) p.d = p.d.map((i) => values[i as number] as Scalar);
    setOwn(f, names[Number(k)] as string, p);
  }
  return { t, n, f };
}

/** A tile as layout 1 holds it (partials by field name, times in full), completed in place. */
function expandOldTile([index, n, partials]: CompactTile, ms: number): Tile {
  const f = (partials ?? {}) as Record<string, FieldPartial>;
  for (const field in f) {
    const p = f[field] as Omit<FieldPartial, 'c'> & { c?: number };
    if (p.c === undefined) p.c = n;
  }
  return { t: index * ms, n, f };
}

/**
 * A Kinesis shard id (`shardId-` and 12 digits) as its number, any other as it is: a merchant item
 * holds a checkpoint for every shard that feeds it, and an id bucket a shard with every id.
 */
const shardRef = (shard: string): string | number =>
  /^shardId-\d{12}$/.test(shard) ? Number(shard.slice('shardId-'.length)) : shard;
const shardName = (ref: string | number): string =>
  typeof ref === 'number' ? `shardId-${String(ref).padStart(12, '0')}` : ref;

/** A canonical decimal numeral (no leading zeros): one that BigInt gives back as it is. */
const isCanonical = (digits: string): boolean => /^(0|[1-9]\d*)$/.test(digits);

/** A checkpoint (a sequence number zero-padded to SEQUENCE_WIDTH) without its padding. */
const unpad = (padded: string): string =>
  padded.length === SEQUENCE_WIDTH && /^\d+$/.test(padded) ? padded.replace(/^0+(?=\d)/, '') : padded;
const pad = (stored: string): string =>
  /^\d+$/.test(stored) ? stored.padStart(SEQUENCE_WIDTH, '0') : stored;

/** What a decision keeps in `i` (its id and record's shard and sequence), if it can be kept there. */
function compactParts(key: string, entry: RecentEvent) {
  const id = unqualified(key);
  const colon = entry.r.lastIndexOf(':');
  const sequence = entry.r.slice(colon + 1);
  if (key !== secondKey(id, entry.t) || colon < 0 || !/^\d+$/.test(sequence)) return undefined;
  return { id, shard: entry.r.slice(0, colon), sequence };
}

/** The largest number of base-36 digits whose value is a safe integer in every case (36^10 < 2^53). */
const BASE36_CHUNK = 10;

const CHUNK_SCALE = 36n ** BigInt(BASE36_CHUNK);

/** A non-negative base-36 numeral as a BigInt (parsed in chunks that fit a double exactly). */
function fromBase36(digits: string): bigint {
  const head = digits.length % BASE36_CHUNK || BASE36_CHUNK;
  let value = BigInt(Number.parseInt(digits.slice(0, head), 36));
  for (let at = head; at < digits.length; at += BASE36_CHUNK)
    value = value * CHUNK_SCALE + BigInt(Number.parseInt(digits.slice(at, at + BASE36_CHUNK), 36));
  return value;
}

/**
 * A checkpoint's value, remembered for the next call: the ids of an item are encoded or decoded one
 * after another against the same one or two checkpoints (a numeral of 129 digits, parsed once).
 */
let lastCheckpoint: string | undefined;
let lastCheckpointValue: bigint | undefined;
/** A checkpoint's value, or undefined if it is not a numeral (nothing counts from it). */
function checkpointValue(checkpoint: string): bigint | undefined {
  if (checkpoint !== lastCheckpoint) {
    lastCheckpointValue = /^\d+$/.test(checkpoint) ? BigInt(checkpoint) : undefined;
    lastCheckpoint = checkpoint;
  }
  return lastCheckpointValue;
}

/** A sequence number as stored in `j`: `-` and its distance below the checkpoint (base 36), or in full. */
function positionOf(sequence: string, checkpoint: string | undefined): string {
  // Only a numeral that BigInt gives back as it is is counted from the checkpoint.
  const from = checkpoint === undefined ? undefined : checkpointValue(checkpoint);
  if (from === undefined || !isCanonical(sequence)) return sequence;
  const below = from - BigInt(sequence);
  return below >= 0n ? `-${below.toString(36)}` : sequence;
}

/** The sequence number a position in `j` stands for (`checkpoint`: the shard's, unpadded). */
function sequenceAt(position: string, checkpoint: string | null | undefined): string {
  if (!position.startsWith('-')) return position;
  const from = typeof checkpoint === 'string' ? checkpointValue(checkpoint) : undefined;
  if (from === undefined || !/^-[0-9a-z]+$/.test(position))
    throw new Error(`an id's position ${position.slice(0, 40)} has no checkpoint to count from`);
  return (from - fromBase36(position.slice(1))).toString();
}

const ageOf = (t: number, base: IdBase): number => (base.maxEventTime === null ? t : base.maxEventTime - t);

/** An id as layout 1 stores it in `i`: event time and sequence number in full. */
const fullId = (
  { id, sequence }: { id: string; sequence: string },
  shardIndex: number,
  entry: RecentEvent,
): CompactId =>
  entry.lg ? [id, entry.t, shardIndex, sequence, entry.lg] : [id, entry.t, shardIndex, sequence];

const compactId = (
  { id, shard, sequence }: { id: string; shard: string; sequence: string },
  shardIndex: number,
  entry: RecentEvent,
  base: IdBase,
): CompactId => {
  const checkpoint = Object.hasOwn(base.checkpoints, shard) ? base.checkpoints[shard] : undefined;
  const position = positionOf(sequence, checkpoint);
  const age = ageOf(entry.t, base);
  return entry.lg ? [id, age, shardIndex, position, entry.lg] : [id, age, shardIndex, position];
};

/**
 * The bytes a decision takes in `dd` (with its separator; in `j`, as of the item's first shard),
 * stored in `state` (its watermark and checkpoints are what the decision is stored relative to).
 */
export function storedIdBytes(key: string, entry: RecentEvent, state: IdBase, layout: ItemLayout): number {
  const parts = compactParts(key, entry);
  const json = parts
    ? JSON.stringify(layout === 1 ? fullId(parts, 0, entry) : compactId(parts, 0, entry, state))
    : `${JSON.stringify(key)}:${JSON.stringify(entry)}`;
  return Buffer.byteLength(json) + 1;
}

/**
 * A decision as an id bucket keeps it (one attribute per id; `start`, the bucket's second):
 * `[ms into the second, shard, sequence number in base 36, late groups?]`, about half the bytes of
 * the record id in full. A record id of another shape is kept as `{r, t, lg}`, as layout 1 keeps
 * every decision (both are read).
 */
export function encodeBucketEntry(entry: RecentEvent, start: number, layout: ItemLayout): string {
  return JSON.stringify(layout === 1 ? entry : compactBucketEntry(entry, start));
}

/** A bucket's decision as stored: compact, or as the processor keeps it where it cannot be. */
type StoredBucketEntry = RecentEvent | [number, string | number, string, string[]?];

function compactBucketEntry(entry: RecentEvent, start: number): StoredBucketEntry {
  const colon = entry.r.lastIndexOf(':');
  const sequence = entry.r.slice(colon + 1);
  const offset = entry.t - start;
  if (colon < 0 || !isCanonical(sequence) || !(Number.isInteger(offset) && offset >= 0 && offset < 1000))
    return entry;
  const compact: [number, string | number, string] = [
    offset,
    shardRef(entry.r.slice(0, colon)),
    BigInt(sequence).toString(36),
  ];
  return entry.lg ? [...compact, [...entry.lg]] : compact;
}

export function decodeBucketEntry(json: string, start: number): RecentEvent {
  return fromStoredBucketEntry(JSON.parse(json) as StoredBucketEntry, start);
}

function fromStoredBucketEntry(raw: StoredBucketEntry, start: number): RecentEvent {
  if (!Array.isArray(raw)) return raw;
  const [offset, shard, sequence, lg] = raw;
  return {
    r: `${shardName(shard)}:${fromBase36(sequence).toString()}`,
    t: start + offset,
    ...(lg !== undefined ? { lg } : {}),
  };
}

/**
 * Whether id buckets of `layout` take a move's decisions as one deflated chunk (layout 4 on) rather
 * than one attribute per id. Per id, an attribute held its name (`i:` and a UUID, 38 bytes) and its
 * decision (about 46 bytes: the sequence number is 37 digits of base 36); in a chunk, the ids of one
 * second of one shard share their sequence numbers' leading digits and the JSON's punctuation, and
 * the whole deflates to under half (about 39 bytes an id under UUID event ids). A bucket is billed
 * by its bytes at every add, so moving ids costs under half what it did.
 */
export const chunksBuckets = (layout: ItemLayout): boolean => layout >= 4;

/**
 * Decisions moved to a bucket together (`start`, its second), as one attribute: `digest` names it
 * (the same decisions always make the same attribute, so adding them again is harmless), `value` is
 * the raw deflate of `{"<event id>": decision as encodeBucketEntry keeps it, …}`.
 */
export function encodeBucketChunk(
  entries: Record<string, RecentEvent>,
  start: number,
): { readonly digest: string; readonly value: Uint8Array } {
  const compact: Record<string, StoredBucketEntry> = {};
  for (const [id, entry] of Object.entries(entries)) setOwn(compact, id, compactBucketEntry(entry, start));
  const json = JSON.stringify(compact);
  return {
    digest: createHash('sha256').update(json).digest('base64url').slice(0, 16),
    value: new Uint8Array(deflateRawSync(json)),
  };
}

/** The decisions of a chunk written by `encodeBucketChunk` (`start`, the bucket's second). */
export function decodeBucketChunk(value: Uint8Array, start: number): [string, RecentEvent][] {
  const json = inflateRawSync(value, { maxOutputLength: MAX_UNPACKED_BYTES }).toString('utf8');
  const raw = JSON.parse(json) as Record<string, StoredBucketEntry>;
  return Object.entries(raw).map(([id, entry]) => [id, fromStoredBucketEntry(entry, start)]);
}

/** Prefix of an id bucket's decision attributes (one per id, layouts 1 to 3). */
const ID_ATTRIBUTE = 'i:';
/** Prefix of an id bucket's chunks (the decisions of one add, deflated; layout 4). */
const CHUNK_ATTRIBUTE = 'c:';

/**
 * The attributes one add of `entries` sets on their id bucket (`start`, its second), by name: an
 * attribute per id (`i:<event id>`, its decision's JSON) or, in layout 4, one chunk
 * (`c:<digest>`, `encodeBucketChunk`).
 */
export function encodeBucketAttributes(
  entries: Record<string, RecentEvent>,
  start: number,
  layout: ItemLayout,
): Record<string, string | Uint8Array> {
  const attributes: Record<string, string | Uint8Array> = {};
  if (chunksBuckets(layout)) {
    const chunk = encodeBucketChunk(entries, start);
    attributes[`${CHUNK_ATTRIBUTE}${chunk.digest}`] = chunk.value;
  } else
    for (const [id, entry] of Object.entries(entries))
      attributes[`${ID_ATTRIBUTE}${id}`] = encodeBucketEntry(entry, start, layout);
  return attributes;
}

/** The decisions an id bucket's item holds (`start`, its second), whichever layouts added them. */
export function decodeBucketAttributes(
  item: Record<string, unknown>,
  start: number,
): [string, RecentEvent][] {
  const decisions: [string, RecentEvent][] = [];
  for (const [name, value] of Object.entries(item))
    if (name.startsWith(ID_ATTRIBUTE))
      decisions.push([name.slice(ID_ATTRIBUTE.length), decodeBucketEntry(String(value), start)]);
    else if (name.startsWith(CHUNK_ATTRIBUTE) && value instanceof Uint8Array)
      decisions.push(...decodeBucketChunk(value, start));
  return decisions;
}

export function encodeIds(
  { checkpoints, recent, floor, ep, bx, holes, copies, maxEventTime }: Ids & IdBase,
  layout: ItemLayout,
): string {
  const base = { maxEventTime, checkpoints };
  const shards = Object.keys(checkpoints);
  const indexOf = new Map(shards.map((s, k) => [s, k]));
  const c: (string | null)[] = shards.map((s) => unpad(checkpoints[s] as string));
  const j: CompactId[] = [];
  let u: Record<string, RecentEvent> | undefined;
  for (const [key, entry] of Object.entries(recent)) {
    const parts = compactParts(key, entry);
    if (!parts) {
      u ??= {};
      setOwn(u, key, entry);
      continue;
    }
    let k = indexOf.get(parts.shard);
    if (k === undefined) {
      k = shards.push(parts.shard) - 1;
      c.push(null);
      indexOf.set(parts.shard, k);
    }
    j.push(layout === 1 ? fullId(parts, k, entry) : compactId(parts, k, entry, base));
  }
  // Checkpoints in base 36 (`k`) when every one is a numeral (always, as the processor writes them).
  const inBase36 = layout !== 1 && c.every((x) => x === null || isCanonical(x));
  return JSON.stringify({
    s: shards.length > 0 ? (layout === 1 ? shards : shards.map(shardRef)) : undefined,
    c: shards.length > 0 && !inBase36 ? c : undefined,
    k: shards.length > 0 && inBase36 ? c.map((x) => (x === null ? null : BigInt(x).toString(36))) : undefined,
    [layout === 1 ? 'i' : 'j']: j.length > 0 ? j : undefined,
    u,
    f: floor,
    ep,
    bx,
    h: holes && Object.keys(holes).length > 0 ? holes : undefined,
    cp: copies && Object.keys(copies).length > 0 ? copies : undefined,
  });
}

/** `maxEventTime`: the watermark of the same item's `tl` (what ids' ages count from). */
export function decodeIds(json: string | undefined, maxEventTime: number | null): Ids {
  const raw = JSON.parse(json ?? '{}') as {
    s?: (string | number)[];
    c?: (string | null)[];
    k?: (string | null)[];
    i?: CompactId[];
    j?: CompactId[];
    u?: Record<string, RecentEvent>;
    f?: number;
    ep?: EntityState['ep'];
    bx?: number;
    h?: Record<string, number>;
    cp?: Record<string, number>;
  } & Partial<Ids>;
  const extra = {
    ...(raw.ep !== undefined ? { ep: raw.ep } : {}),
    ...(raw.bx !== undefined ? { bx: raw.bx } : {}),
    ...(raw.h !== undefined ? { holes: raw.h } : {}),
    ...(raw.cp !== undefined ? { copies: raw.cp } : {}),
  };
  if ('checkpoints' in raw) {
    return {
      checkpoints: raw.checkpoints ?? {},
      recent: raw.recent ?? {},
      ...(raw.floor !== undefined ? { floor: raw.floor } : {}),
      ...extra,
    };
  }
  const shards = (raw.s ?? []).map(shardName);
  // Each shard's checkpoint without its padding (what positions in `j` count from), or null.
  const unpadded = shards.map((_, k) => {
    const inBase36 = raw.k?.[k];
    return typeof inBase36 === 'string' ? fromBase36(inBase36).toString() : (raw.c?.[k] ?? null);
  });
  const checkpoints: Record<string, string> = {};
  shards.forEach((shard, k) => {
    const stored = unpadded[k];
    if (stored !== null && stored !== undefined) setOwn(checkpoints, shard, pad(stored));
  });
  const recent: Record<string, RecentEvent> = raw.u ?? {};
  const add = (id: string, t: number, k: number, sequence: string, lg: readonly string[] | undefined) =>
    setOwn(recent, secondKey(id, t), {
      r: `${shards[k]}:${sequence}`,
      t,
      ...(lg !== undefined ? { lg } : {}),
    });
  for (const [id, t, k, sequence, lg] of raw.i ?? []) add(id, t, k, sequence, lg);
  for (const [id, age, k, position, lg] of raw.j ?? [])
    add(id, maxEventTime === null ? age : maxEventTime - age, k, sequenceAt(position, unpadded[k]), lg);
  return {
    checkpoints,
    recent,
    ...(raw.f !== undefined ? { floor: raw.f } : {}),
    ...extra,
  };
}
