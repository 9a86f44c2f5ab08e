/**
 * Windowed aggregates as time tiles. Each event adds to one tile per tile size its group uses
 * (partial aggregates: count, sum, min, max, last, distinct values); a sliding window is answered
 * at read time by combining the tiles that overlap it, so it is exact to the tile size and an
 * event costs no more than its entity's one write per batch.
 *
 * A window W kept in tiles of size r, read at time t, combines the tiles with
 * start + r > t - W and start <= t (the oldest tile may reach up to r before the window).
 */
import type { Aggregation, FeatureGroup } from '../../schemas/index.js';
import { windowFeatures } from '../../schemas/index.js';
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
  /** distinct values, sorted */
  d?: Scalar[];
}

export interface Tile {
  /** events in the tile */
  n: number;
  f: Record<string, FieldPartial>;
}

/** tile size (ms, as a string key) -> tile start (ms, as a string key) -> tile */
export type TileSet = Record<string, Record<string, Tile>>;

type PartialKind = 'sum' | 'minmax' | 'last' | 'distinct';

/** What a group needs kept, per tile size: which fields, which partials, and the longest window. */
export interface TilePlan {
  readonly sizes: readonly {
    readonly tileMs: number;
    readonly longestWindowMs: number;
    readonly fields: ReadonlyMap<string, ReadonlySet<PartialKind>>;
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

const plans = new WeakMap<FeatureGroup, TilePlan>();

export function tilePlan(group: FeatureGroup): TilePlan {
  const cached = plans.get(group);
  if (cached) return cached;
  const sizes = new Map<
    number,
    { tileMs: number; longestWindowMs: number; fields: Map<string, Set<PartialKind>> }
  >();
  for (const f of windowFeatures(group)) {
    const tileMs = f.tileMs as number;
    const size = sizes.get(tileMs) ?? { tileMs, longestWindowMs: 0, fields: new Map() };
    size.longestWindowMs = Math.max(size.longestWindowMs, f.windowMs as number);
    const kind = KIND_OF[f.fn as Aggregation];
    if (kind) size.fields.set(f.field, (size.fields.get(f.field) ?? new Set()).add(kind));
    sizes.set(tileMs, size);
  }
  const plan = { sizes: [...sizes.values()] };
  plans.set(group, plan);
  return plan;
}

const tileStart = (t: number, tileMs: number) => Math.floor(t / tileMs) * tileMs;
const newer = (t: number, id: string, p: FieldPartial) =>
  p.lt === undefined || t > p.lt || (t === p.lt && id > (p.li as string));

function addToPartial(
  p: FieldPartial,
  kinds: ReadonlySet<PartialKind>,
  value: Scalar,
  t: number,
  id: string,
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
    if (!d.includes(value)) {
      d.push(value);
      d.sort();
    }
    p.d = d;
  }
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
    tiles[size.tileMs] ??= {};
    const bySize = tiles[size.tileMs] as Record<string, Tile>;
    const start = tileStart(event.eventTime, size.tileMs);
    bySize[start] ??= { n: 0, f: {} };
    const tile = bySize[start] as Tile;
    tile.n++;
    for (const [field, kinds] of size.fields) {
      const value = event.fields[field];
      if (value === null || value === undefined) continue;
      tile.f[field] ??= { c: 0 };
      addToPartial(tile.f[field] as FieldPartial, kinds, value as Scalar, event.eventTime, event.eventId);
    }
  }
}

/** Drops tiles no window can reach any more, given the entity's newest event time (mutates). */
export function pruneTiles(tiles: TileSet, plan: TilePlan, maxEventTime: number): void {
  for (const size of plan.sizes) {
    const bySize = tiles[size.tileMs];
    if (!bySize) continue;
    const horizon = maxEventTime - MAX_FUTURE_SKEW_MS - size.longestWindowMs;
    for (const start of Object.keys(bySize)) if (Number(start) + size.tileMs <= horizon) delete bySize[start];
  }
  for (const key of Object.keys(tiles))
    if (!plan.sizes.some((s) => String(s.tileMs) === key)) delete tiles[key];
}

/** Every window feature of the group as of `asOf`: counts and sums are 0 when the window is empty, the rest null. */
export function evaluateWindows(
  group: FeatureGroup,
  tiles: TileSet,
  asOf: number,
  /** Only these window features (a lookup computes just what it was asked). @default all */
  only?: ReadonlySet<string>,
): Record<string, FeatureValue> {
  const out: Record<string, FeatureValue> = {};
  // Each tile size's tiles are listed once, whatever the number of features kept in that size.
  const listed = new Map<number, [number, Tile][]>();
  const tilesOf = (tileMs: number) => {
    let list = listed.get(tileMs);
    if (!list) {
      list = Object.entries(tiles[tileMs] ?? {}).map(([start, tile]) => [Number(start), tile]);
      listed.set(tileMs, list);
    }
    return list;
  };
  for (const f of windowFeatures(group)) {
    if (only && !only.has(f.name)) continue;
    const tileMs = f.tileMs as number;
    const from = asOf - (f.windowMs as number);
    let n = 0;
    let c = 0;
    let s = 0;
    let mn: Scalar | undefined;
    let mx: Scalar | undefined;
    let last: FieldPartial | undefined;
    const distinct = f.fn === 'distinct' ? new Set<Scalar>() : undefined;
    for (const [t0, tile] of tilesOf(tileMs)) {
      if (t0 + tileMs <= from || t0 > asOf) continue;
      n += tile.n;
      const p = tile.f[f.field];
      if (!p) continue;
      c += p.c;
      s += p.s ?? 0;
      if (p.mn !== undefined && (mn === undefined || p.mn < mn)) mn = p.mn;
      if (p.mx !== undefined && (mx === undefined || p.mx > mx)) mx = p.mx;
      if (p.lt !== undefined && (!last || newer(p.lt, p.li as string, last))) last = p;
      if (distinct) for (const v of p.d ?? []) distinct.add(v);
    }
    out[f.name] = ((): FeatureValue => {
      switch (f.fn as Aggregation) {
        case 'count':
          return n;
        case 'sum':
          return s;
        case 'mean':
          return c === 0 ? null : s / c;
        case 'min':
          return mn ?? null;
        case 'max':
          return mx ?? null;
        case 'last':
          return last?.lv ?? null;
        case 'distinct':
          return distinct?.size ?? 0;
      }
    })();
  }
  return out;
}
