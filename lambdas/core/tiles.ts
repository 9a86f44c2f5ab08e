/**
 * Windowed aggregates as time tiles. Each event adds to one tile per tile size its group uses
 * (partial aggregates: count, sum, min, max, last, distinct values); a sliding window is answered
 * at read time by combining the tiles that overlap it, so it is exact to the tile size and an
 * event costs no more than its entity's one write per batch.
 *
 * A window W kept in tiles of size r, read at time t, combines the tiles with
 * start + r > t - W and start <= t (the oldest tile may reach up to r before the window, and the
 * newest holds what has arrived of t's tile: an event stamped after t by a producer clock ahead of
 * its arrival, within the contract's skew, counts from its arrival if it falls in t's tile; training
 * sets follow the same rule, offline/training/window-sql.ts).
 */
import { createHash } from 'node:crypto';
import type { Aggregation, FeatureGroup } from '../../schemas/index.js';
import { DEFAULT_MAX_DISTINCT, windowFeatures } from '../../schemas/index.js';
import { perDefinition } from '../../schemas/per-definition.js';
import { MAX_FUTURE_SKEW_MS } from './decode.js';
import type { FeatureValue } from './ports.js';

type Scalar = string | number;

/** Partial aggregates of one field in one tile (short keys: tiles are stored in every entity item). */
export interface FieldPartial {
  /** values counted (non-null) */
  c: number;
  /** sum */
  s?: number;
  /** min, max */
  mn?: Scalar;
  mx?: Scalar;
  /** last: event time, event id, value */
  lt?: number;
  li?: string;
  lv?: FeatureValue;
  /** distinct values (a long one as its digest: `distinctValue`), sorted, at most the feature's `maxDistinct` */
  d?: Scalar[];
  /**
   * Set once a value came that `d` had no room for: the tile saw more distinct values than it keeps.
   * The cap `d` had then (a later definition may raise it; `aggregate` reads the tile accordingly).
   */
  o?: number;
}

/** The most bytes one distinct value takes in an item's JSON; a longer one is kept as its digest. */
export const DISTINCT_VALUE_MAX_BYTES = 64;

/**
 * A distinct value as a tile keeps it: as it is, unless its JSON takes more than
 * DISTINCT_VALUE_MAX_BYTES (a long or multi-byte string, escapes), then `#` and 128 bits of its
 * SHA-256. So the size bound that feature-group.ts checks at definition holds for any value; two
 * values count as one only on a digest collision (about 2^-64 even among billions of values).
 */
export function distinctValue(value: Scalar): Scalar {
  if (typeof value !== 'string' || value.length * 6 + 2 <= DISTINCT_VALUE_MAX_BYTES) return value;
  const json = JSON.stringify(value); // escapes lone surrogates, which UTF-8 would merge into U+FFFD
  if (Buffer.byteLength(json) <= DISTINCT_VALUE_MAX_BYTES) return value;
  return `#${createHash('sha256').update(json).digest('base64url').slice(0, 22)}`;
}

export interface Tile {
  /** start of the tile, epoch ms (a multiple of the tile size) */
  t: number;
  /** events in the tile */
  n: number;
  f: Record<string, FieldPartial>;
}

/**
 * Tile size (ms, as a string key) -> that size's tiles, ascending by start. An array rather than a
 * map keyed by start: a read walks back from the newest tile and stops at the window's start, a
 * prune drops a prefix, and nothing parses numeric keys.
 */
export type TileSet = Record<string, Tile[]>;

type PartialKind = 'sum' | 'minmax' | 'last' | 'distinct';

/** What a group needs kept, per tile size: which fields, which partials, and the longest window. */
export interface TilePlan {
  readonly sizes: readonly {
    readonly tileMs: number;
    readonly longestWindowMs: number;
    readonly fields: ReadonlyMap<string, ReadonlySet<PartialKind>>;
    /** Per field with distinct values: how many a tile keeps (the largest `maxDistinct` of its features). */
    readonly distinctCaps: ReadonlyMap<string, number>;
  }[];
}

const KIND_OF: Record<Aggregation, PartialKind | null> = {
  count: null,
  sum: 'sum',
  mean: 'sum',
  min: 'minmax',
  max: 'minmax',
  last: 'last',
  distinct: 'distinct',
};

export const tilePlan = perDefinition((group: FeatureGroup): TilePlan => {
  const sizes = new Map<
    number,
    {
      tileMs: number;
      longestWindowMs: number;
      fields: Map<string, Set<PartialKind>>;
      distinctCaps: Map<string, number>;
    }
  >();
  for (const f of windowFeatures(group)) {
    const tileMs = f.tileMs as number;
    const size = sizes.get(tileMs) ?? {
      tileMs,
      longestWindowMs: 0,
      fields: new Map(),
      distinctCaps: new Map(),
    };
    size.longestWindowMs = Math.max(size.longestWindowMs, f.windowMs as number);
    const kind = KIND_OF[f.fn as Aggregation];
    if (kind) size.fields.set(f.field, (size.fields.get(f.field) ?? new Set()).add(kind));
    if (kind === 'distinct')
      size.distinctCaps.set(
        f.field,
        Math.max(size.distinctCaps.get(f.field) ?? 0, f.maxDistinct ?? DEFAULT_MAX_DISTINCT),
      );
    sizes.set(tileMs, size);
  }
  return { sizes: [...sizes.values()] };
});

const tileStart = (t: number, tileMs: number) => Math.floor(t / tileMs) * tileMs;
const newer = (t: number, id: string, p: FieldPartial) =>
  p.lt === undefined || t > p.lt || (t === p.lt && id > (p.li as string));

function addToPartial(
  p: FieldPartial,
  kinds: ReadonlySet<PartialKind>,
  value: Scalar,
  t: number,
  id: string,
  distinctCap: number,
) {
  p.c++;
  if (kinds.has('sum')) p.s = (p.s ?? 0) + (value as number);
  if (kinds.has('minmax')) {
    if (p.mn === undefined || value < p.mn) p.mn = value;
    if (p.mx === undefined || value > p.mx) p.mx = value;
  }
  if (kinds.has('last') && newer(t, id, p)) {
    p.lt = t;
    p.li = id;
    p.lv = value;
  }
  if (kinds.has('distinct')) {
    const d = p.d ?? [];
    const v = distinctValue(value);
    if (!d.includes(v)) {
      if (d.length < distinctCap) {
        d.push(v);
        d.sort();
      } else p.o = Math.max(p.o ?? 0, distinctCap);
    }
    p.d = d;
  }
}

/** The tile of `list` (ascending by start) that starts at `start`, inserted in order if missing. */
function tileAt(list: Tile[], start: number): Tile {
  // Events are mostly recent: search from the newest end.
  let i = list.length - 1;
  while (i >= 0 && (list[i] as Tile).t > start) i--;
  if (i >= 0 && (list[i] as Tile).t === start) return list[i] as Tile;
  const tile: Tile = { t: start, n: 0, f: {} };
  list.splice(i + 1, 0, tile);
  return tile;
}

/** Adds one event to every tile size of the plan (mutates `tiles`). */
export function addToTiles(
  tiles: TileSet,
  plan: TilePlan,
  event: {
    readonly eventTime: number;
    readonly eventId: string;
    readonly fields: Readonly<Record<string, unknown>>;
  },
): void {
  for (const size of plan.sizes) {
    tiles[size.tileMs] ??= [];
    const list = tiles[size.tileMs] as Tile[];
    const tile = tileAt(list, tileStart(event.eventTime, size.tileMs));
    tile.n++;
    for (const [field, kinds] of size.fields) {
      const value = event.fields[field];
      if (value === null || value === undefined) continue;
      tile.f[field] ??= { c: 0 };
      addToPartial(
        tile.f[field] as FieldPartial,
        kinds,
        value as Scalar,
        event.eventTime,
        event.eventId,
        size.distinctCaps.get(field) ?? DEFAULT_MAX_DISTINCT,
      );
    }
  }
}

/** Drops tiles no window can reach any more, given the entity's newest event time (mutates). */
export function pruneTiles(tiles: TileSet, plan: TilePlan, maxEventTime: number): void {
  for (const size of plan.sizes) {
    const list = tiles[size.tileMs];
    if (!list) continue;
    const horizon = maxEventTime - MAX_FUTURE_SKEW_MS - size.longestWindowMs;
    let drop = 0;
    while (drop < list.length && (list[drop] as Tile).t + size.tileMs <= horizon) drop++;
    if (drop > 0) list.splice(0, drop);
  }
  for (const key of Object.keys(tiles))
    if (!plan.sizes.some((s) => String(s.tileMs) === key)) delete tiles[key];
}

/** How to answer some of a group's window features: per tile size, the features kept in it. */
export interface WindowReadPlan {
  readonly sizes: readonly {
    readonly tileMs: number;
    readonly features: readonly {
      readonly name: string;
      readonly fn: Aggregation;
      readonly field: string;
      readonly windowMs: number;
      /** For `distinct`: where the count saturates. */
      readonly maxDistinct: number;
    }[];
  }[];
}

const readPlans = new WeakMap<FeatureGroup, Map<string, WindowReadPlan>>();

/** The read plan for the group's window features (only those in `only`, if given); memoised. */
export function windowReadPlan(group: FeatureGroup, only?: ReadonlySet<string>): WindowReadPlan {
  const key = only ? [...only].sort().join(',') : '*';
  let byKey = readPlans.get(group);
  if (!byKey) {
    byKey = new Map();
    readPlans.set(group, byKey);
  }
  let plan = byKey.get(key);
  if (!plan) {
    const sizes = new Map<number, WindowReadPlan['sizes'][number]['features'][number][]>();
    for (const f of windowFeatures(group)) {
      if (only && !only.has(f.name)) continue;
      const list = sizes.get(f.tileMs as number) ?? [];
      list.push({
        name: f.name,
        fn: f.fn as Aggregation,
        field: f.field,
        windowMs: f.windowMs as number,
        maxDistinct: f.maxDistinct ?? DEFAULT_MAX_DISTINCT,
      });
      sizes.set(f.tileMs as number, list);
    }
    plan = { sizes: [...sizes].map(([tileMs, features]) => ({ tileMs, features })) };
    if (byKey.size > 1_000) byKey.clear(); // feature subsets are few; bound it anyway
    byKey.set(key, plan);
  }
  return plan;
}

/** Every window feature of the group as of `asOf`: counts and sums are 0 when the window is empty, the rest null. */
export function evaluateWindows(
  group: FeatureGroup,
  tiles: TileSet,
  asOf: number,
  /** Only these window features (a lookup computes just what it was asked). @default all */
  only?: ReadonlySet<string>,
): Record<string, FeatureValue> {
  return evaluatePlan(windowReadPlan(group, only), tiles, asOf);
}

/**
 * The features of a read plan as of `asOf` (a lookup runs this for every entity it returns). Per
 * tile size, the end of the run of tiles at or before `asOf` is found once; each feature then sums
 * the run back to its window's start.
 */
export function evaluatePlan(
  plan: WindowReadPlan,
  tiles: TileSet,
  asOf: number,
): Record<string, FeatureValue> {
  const out: Record<string, FeatureValue> = {};
  for (const { tileMs, features } of plan.sizes) {
    const list = tiles[tileMs] ?? [];
    // The tiles are ascending by start: those of a window are a contiguous run [lo, hi).
    let hi = list.length;
    while (hi > 0 && (list[hi - 1] as Tile).t > asOf) hi--;
    for (const f of features) {
      const from = asOf - f.windowMs;
      let lo = hi;
      while (lo > 0 && (list[lo - 1] as Tile).t + tileMs > from) lo--;
      out[f.name] = aggregate(f.fn, f.field, list, lo, hi, f.maxDistinct);
    }
  }
  return out;
}

/** One aggregation over the tiles list[lo..hi): one small loop per kind, so each stays simple and fast. */
function aggregate(
  fn: Aggregation,
  field: string,
  list: readonly Tile[],
  lo: number,
  hi: number,
  maxDistinct: number,
): FeatureValue {
  switch (fn) {
    case 'count': {
      let n = 0;
      for (let i = lo; i < hi; i++) n += (list[i] as Tile).n;
      return n;
    }
    case 'sum':
    case 'mean': {
      let s = 0;
      let c = 0;
      for (let i = lo; i < hi; i++) {
        const p = (list[i] as Tile).f[field];
        if (p === undefined) continue;
        s += p.s ?? 0;
        c += p.c;
      }
      return fn === 'sum' ? s : c === 0 ? null : s / c;
    }
    case 'min':
    case 'max': {
      let best: Scalar | undefined;
      for (let i = lo; i < hi; i++) {
        const v = fn === 'min' ? (list[i] as Tile).f[field]?.mn : (list[i] as Tile).f[field]?.mx;
        if (v !== undefined && (best === undefined || (fn === 'min' ? v < best : v > best))) best = v;
      }
      return best ?? null;
    }
    case 'last': {
      let last: FieldPartial | undefined;
      for (let i = lo; i < hi; i++) {
        const p = (list[i] as Tile).f[field];
        if (p?.lt !== undefined && (last === undefined || newer(p.lt, p.li as string, last))) last = p;
      }
      return last?.lv ?? null;
    }
    case 'distinct': {
      // min(distinct, maxDistinct), exactly: a tile that had no room at this cap saw more than
      // maxDistinct distinct values itself; otherwise every tile kept all of its values. A tile
      // full at a lower cap (the definition raised it since) only says it saw more than that: the
      // count is then a lower bound until the tile ages out of the window.
      const seen = new Set<Scalar>();
      let atLeast = 0;
      for (let i = lo; i < hi; i++) {
        const p = (list[i] as Tile).f[field];
        if (p?.o !== undefined) {
          if (p.o >= maxDistinct) return maxDistinct;
          atLeast = Math.max(atLeast, p.o + 1);
        }
        for (const v of p?.d ?? []) seen.add(v);
      }
      return Math.min(Math.max(seen.size, atLeast), maxDistinct);
    }
  }
}
