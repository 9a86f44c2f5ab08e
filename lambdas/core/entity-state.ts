/**
 * One entity's online state in one group, and the pure steps that change it: apply an event
 * (latest value, tiles, watermark), remember which records it has processed per shard, prune.
 */
import type { FeatureGroup } from '../../schemas/index.js';
import type { ValidEvent } from './decode.js';
import { compareEventOrder, latestValuesOf } from './latest-values.js';
import type { EntityState, RecentEvent } from './ports.js';
import { addToTiles, pruneTiles, tilePlan } from './tiles.js';

export const emptyState = (): EntityState => ({
  maxEventTime: null,
  latest: null,
  tiles: {},
  checkpoints: {},
  recent: {},
});

/** A record as an entity sees it. `paddedSequence` is the fixed-width sequence number. */
export interface EntityRecord {
  readonly recordId: string;
  readonly shardId: string;
  readonly paddedSequence: string;
  readonly arrivalTime: number;
  readonly event: ValidEvent;
}

/** True if this entity already processed the record (it is at or before the shard's checkpoint). */
export const alreadyProcessed = (state: EntityState, r: EntityRecord): boolean =>
  (state.checkpoints[r.shardId] ?? '') >= r.paddedSequence;

/** A record's key among an entity's holes (ports.ts `EntityState.holes`). */
export const holeKey = (r: Pick<EntityRecord, 'shardId' | 'paddedSequence'>): string =>
  `${r.shardId} ${r.paddedSequence}`;

/** The shard of a hole (its key's first part). */
export const shardOfHole = (key: string): string => key.slice(0, key.indexOf(' '));

/**
 * How long a hole is kept at least, from when it was made or its record arrived, whichever is later,
 * by the clock of a batch of its own shard: a shard delivers a failed record again before any later
 * one (a redelivery from the failure, a bisected half), and the mapping gives it up at 23 h.
 * Deployed, holes last longer, the stream's retention and a day (process-batch.ts `holeTtlMs`): a
 * replay of the stream from a lost checkpoint may bring back a record parked whole before its
 * redrive does. The clock is the same for every shard there; expiring by the hole's own shard keeps
 * this true where it is not (the property harness gives each shard a clock of its own, days apart).
 * The cost: the holes of a shard closed by resharding stay in the item, as its checkpoint does.
 */
export const HOLE_TTL_MS = 48 * 3_600_000;

/** True if the entity still has to apply the record: not processed, or a hole it went past. */
export const pending = (state: EntityState, r: EntityRecord): boolean =>
  !alreadyProcessed(state, r) || hasHole(state, r);

/**
 * What an entity keeps by a record's position (`holeKey`), to a wall time, for as long as holes:
 * the records it went past without applying them (`holes`), the redrive copies it applied
 * (`copies`; ports.ts `EntityState`).
 */
type PositionsKept = 'holes' | 'copies';
type Position = Pick<EntityRecord, 'shardId' | 'paddedSequence'>;

const keeps = (state: EntityState, field: PositionsKept, r: Position): boolean => {
  const kept = state[field];
  return kept !== undefined && Object.hasOwn(kept, holeKey(r));
};

/** From now or the record's arrival, whichever is later (HOLE_TTL_MS). */
const keep = (state: EntityState, field: PositionsKept, r: EntityRecord, now: number): void => {
  state[field] = { ...state[field], [holeKey(r)]: Math.max(now, r.arrivalTime) };
};

/** True if the entity went past the record without applying it (a hole). */
export const hasHole = (state: EntityState, r: Position): boolean => keeps(state, 'holes', r);

/** Keeps the record as a hole. */
export const addHole = (state: EntityState, r: EntityRecord, now: number): void =>
  keep(state, 'holes', r, now);

/** Forgets the record's hole, if it has one (it is applied, or completed by a redrive). */
export function dropHole(state: EntityState, r: Position): void {
  if (!state.holes) return;
  delete state.holes[holeKey(r)];
  if (Object.keys(state.holes).length === 0) delete state.holes;
}

/** True if the entity applied this redrive copy. */
export const appliedCopy = (state: EntityState, r: Position): boolean => keeps(state, 'copies', r);

/** Remembers that the entity applied this redrive copy. */
export const markCopyApplied = (state: EntityState, r: EntityRecord, now: number): void =>
  keep(state, 'copies', r, now);

/**
 * Drops the holes and applied copies of `shards` kept longer than `ttlMs` by `now`, the clock of
 * those shards only.
 */
export function expireHoles(
  state: EntityState,
  shards: ReadonlySet<string>,
  now: number,
  ttlMs: number,
): void {
  for (const field of ['holes', 'copies'] as const) {
    const kept = state[field];
    if (!kept) continue;
    for (const [k, at] of Object.entries(kept))
      if (at < now - ttlMs && shards.has(shardOfHole(k))) delete kept[k];
    if (Object.keys(kept).length === 0) delete state[field];
  }
}

export function advanceCheckpoint(
  state: EntityState,
  r: Pick<EntityRecord, 'shardId' | 'paddedSequence'>,
): void {
  if ((state.checkpoints[r.shardId] ?? '') < r.paddedSequence)
    state.checkpoints[r.shardId] = r.paddedSequence;
}

/** Late for the group: older than the entity's watermark (newest event time minus allowed lateness). */
export const isLate = (state: EntityState, group: FeatureGroup, eventTime: number): boolean =>
  state.maxEventTime !== null && eventTime < state.maxEventTime - group.allowedLatenessMs;

/** Applies an on-time event: watermark, latest values under the (eventTime, eventId) guard, tiles. */
export function applyEvent(state: EntityState, group: FeatureGroup, r: EntityRecord): void {
  const { event } = r;
  state.maxEventTime = Math.max(state.maxEventTime ?? event.eventTime, event.eventTime);
  if (!state.latest || compareEventOrder(event, state.latest) > 0) {
    const values = latestValuesOf(group, event.fields);
    state.latest = {
      eventTime: event.eventTime,
      eventId: event.eventId,
      ingestionTime: r.arrivalTime,
      contractVersion: event.contractVersion,
      values,
    };
  }
  addToTiles(state.tiles, tilePlan(group), event);
}

/** How long past the lateness horizon an event id is remembered, for producer retries. */
export const RECENT_MARGIN_MS = 10 * 60_000;

/**
 * True once an event remembered at event time `t` is past the horizon: a retry of it is decided as
 * if its id had never been seen (it can only be late), whether or not pruning dropped it yet. Judged
 * by the start of its second, as an event is its id within that second: all copies of one event
 * leave the horizon together, wherever in the second the horizon line falls.
 */
export function isForgotten(state: EntityState, group: FeatureGroup, t: number): boolean {
  const second = eventSecond(t);
  return (
    (state.maxEventTime !== null &&
      second < state.maxEventTime - group.allowedLatenessMs - RECENT_MARGIN_MS) ||
    (state.floor !== undefined && second < state.floor)
  );
}

/**
 * The decision remembered under an event id (or retry key), if any. Event ids are producer data and
 * may be any name an object has by inheritance (`constructor`, `toString`, `__proto__`), so only own
 * entries count.
 */
export const recentEntry = (state: EntityState, key: string): RecentEvent | undefined =>
  Object.hasOwn(state.recent, key) ? state.recent[key] : undefined;

/**
 * Sets an own property whatever its name: keys here are producer data (event ids, field names).
 * Assigning to an inherited data property (`constructor`) makes an own one, but `__proto__` is an
 * inherited setter: that key alone must be defined.
 */
export function setOwn<V>(target: Record<string, V>, key: string, value: V): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** Remembers a decision as an own entry of `recent`. */
export const remember = (state: EntityState, key: string, entry: RecentEvent): void =>
  setOwn(state.recent, key, entry);

/** The start of the second of event time `t`: an event is its id within that second. */
export const eventSecond = (t: number): number => Math.floor(t / 1000) * 1000;

/** Where a record decided past the id horizon keeps its decision (the id's own entry is never overwritten). */
export const retryKey = (eventId: string, recordId: string): string => `${eventId}@${recordId}`;

/**
 * The key of a decision kept in the entity item: the id (or retry key) qualified by the second of
 * its event time, as an event is its id within that second (`~` is in no event id). Items written
 * before 2026-11-26 hold unqualified keys, read as the id of the entry's own second.
 */
export const secondKey = (key: string, eventTime: number): string =>
  `~${eventSecond(eventTime) / 1000}~${key}`;

/** The id (or retry key) of an entity item's key, without its second. */
export const unqualified = (key: string): string =>
  key.startsWith('~') ? key.slice(key.indexOf('~', 1) + 1) : key;

/** The event id an entity item's key is for (a retry key's too). */
export const eventIdOfKey = (key: string): string => unqualified(key).split('@')[0] as string;

/**
 * Drops tiles no window reaches and forgotten event ids, except the ids of `keep` (the records of
 * the batch being processed: a redelivery of them re-reads their decisions).
 */
export function pruneState(state: EntityState, group: FeatureGroup, keep?: ReadonlySet<string>): void {
  if (state.maxEventTime === null) return;
  pruneTiles(state.tiles, tilePlan(group), state.maxEventTime);
  const kept = (key: string) => keep?.has(eventIdOfKey(key)) ?? false;
  const { recent } = state;
  let count = 0;
  for (const key in recent) {
    if (isForgotten(state, group, (recent[key] as RecentEvent).t) && !kept(key)) delete recent[key];
    else count++;
  }
  if (count <= group.maxRecentEvents) return;
  evictOverCap(
    state,
    group,
    Object.entries(recent).filter(([key]) => !kept(key)),
  );
}

/**
 * Bounded memory: past `maxRecentEvents` ids, the oldest of `evictable` go and the floor rises above
 * them, so a retry of an evicted event is decided late (kept in the late output), never applied
 * twice. Also where ids a failed bucket add put back would pass the cap (id-buckets.ts `moveIds`):
 * were they kept, an item whose adds keep failing would hold every id of the horizon and outgrow
 * DynamoDB's 400 KB, and its batches would fail until Lambda gave them up.
 */
export function evictOverCap(
  state: EntityState,
  group: FeatureGroup,
  evictable: readonly (readonly [string, RecentEvent])[],
): void {
  const excess = Object.keys(state.recent).length - group.maxRecentEvents;
  if (excess <= 0) return;
  const oldest = [...evictable].sort(([ka, a], [kb, b]) => a.t - b.t || (ka < kb ? -1 : 1)).slice(0, excess);
  for (const [key, seen] of oldest) {
    delete state.recent[key];
    raiseFloor(state, seen.t);
  }
}

/**
 * Raises the floor above event time `t`, to the end of its second: an event is its id within the
 * second of its event time, so every event of that second is then decided late, never applied twice.
 */
export function raiseFloor(state: EntityState, t: number): void {
  const above = eventSecond(t) + 1000;
  state.floor = Math.max(state.floor ?? above, above);
}

/** When the item may go: after the group's TTL and its longest window have both passed. */
export function expiresAt(state: EntityState, group: FeatureGroup): number {
  const longest = Math.max(0, ...group.features.map((f) => f.windowMs ?? 0));
  return Math.ceil(((state.maxEventTime ?? Date.now()) + Math.max(group.ttlMs, longest)) / 1000);
}
