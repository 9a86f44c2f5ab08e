/**
 * Where an authority entity remembers the event ids it decided (for producer retries and
 * redeliveries): in its own item while they fit in the write units the item costs anyway, and past
 * that in id buckets, items of their own, one per entity per second of event time.
 *
 * Why not all in the entity item: it is rewritten whole at every batch, so ids kept there are paid
 * for again at every write for the whole lateness horizon. A customer at 100 events/s holds 420,000
 * ids in a 70-minute horizon; capped at `maxRecentEvents`, its item was 56 KB (56 write units a
 * batch) and its effective lateness shrank to seconds. An id moved to a bucket is written there once.
 *
 * Write-behind, so that a bucket only ever holds settled ids: a batch's new ids go into the entity
 * item, in the same write as the events they decide (atomic: a crash leaves both or neither). A
 * later batch of that entity moves the oldest of them, when they no longer fit, into the buckets of
 * their seconds, by blind idempotent adds, before it saves the entity without them. A crash or a
 * conflict in between leaves an id in both places, which is harmless; a failed add leaves it in the
 * entity. A retry carries its original's event time, so it finds the id in the entity or in the
 * bucket of that second: an event is its id within the second of its event time.
 *
 * Buckets expire by TTL, on the wall clock, at the earliest `ID_BUCKET_SLACK_MS` (8 days, longer
 * than Lambda retries a record) and the id horizon after their last add. The entity logs its moves by
 * epoch (`ep`: when the epoch's first move was, the newest event time it moved); before any bucket
 * of an epoch can expire, its floor rises above that event time and the epoch goes. In a live stream
 * those ids are a week past any lateness a group may allow (`MAX_ALLOWED_LATENESS_MS`), so nothing
 * changes; after a consumer stalled longer than that, a retry of such an event is decided late, never
 * applied twice.
 */
import type { FeatureGroup } from '../../schemas/index.js';
import {
  eventSecond,
  evictOverCap,
  expiresAt,
  RECENT_MARGIN_MS,
  raiseFloor,
  remember,
  secondKey,
  setOwn,
  unqualified,
} from './entity-state.js';
import { entityKeyOf } from './latest-values.js';
import type { EntityKey, EntityState, EntityStore, RecentEvent } from './ports.js';
import { isFailed } from './ports.js';

/** Moves are logged by epochs of this length (a few entries per entity at most). */
export const ID_EPOCH_MS = 2 * 24 * 3_600_000;
/**
 * How much longer than the id horizon a bucket lives past its last add: more than the 7 days Lambda
 * may keep retrying a record, so a redelivery still finds its decision.
 */
export const ID_BUCKET_SLACK_MS = 8 * 24 * 3_600_000;
/** How long before an epoch's first bucket can expire the floor rises above it (batches take seconds). */
const EXPIRY_SAFETY_MS = 3_600_000;

/** A bucket covers one second of event time: the second an event's identity is taken within. */
export const idBucketStart = eventSecond;

/** The group name under which a group's id buckets are stored (never a feature group's name: `/` is not allowed there). */
const idBucketGroup = (group: string): string => `${group}/ids`;

/** The second (epoch ms) whose ids the bucket of `key` (made by `idBucketKey`) holds. */
export const idBucketStartOf = (key: EntityKey): number =>
  Number(key.entityId.slice(key.entityId.lastIndexOf('@') + 1));

/** True for the group name of id buckets (so a store reads such an item as a bucket). */
export const isIdBucketGroup = (group: string): boolean => group.endsWith('/ids');

/** The bucket holding the ids of one entity of `group` in the second starting at `start` (idBucketStart). */
export const idBucketKey = (group: string, entityId: string, start: number): EntityKey => ({
  group: idBucketGroup(group),
  entityId: `${entityId}@${start}`,
});

const horizonMs = (group: FeatureGroup) => group.allowedLatenessMs + RECENT_MARGIN_MS;

/** TTL (epoch seconds) of a bucket written now. */
export const idBucketExpiresAt = (group: FeatureGroup, now: number): number =>
  Math.ceil((now + horizonMs(group) + ID_BUCKET_SLACK_MS) / 1000);

/**
 * Raises the floor above the ids of every logged epoch whose buckets could expire now, and drops
 * those epochs. Call before deciding a batch's records.
 */
export function expireMovedIds(state: EntityState, group: FeatureGroup, now: number): void {
  const ep = state.ep;
  if (!ep) return;
  while (
    ep.length > 0 &&
    (ep[0] as { w: number }).w + horizonMs(group) + ID_BUCKET_SLACK_MS <= now + EXPIRY_SAFETY_MS
  )
    raiseFloor(state, (ep.shift() as { m: number }).m);
  if (ep.length === 0) delete state.ep;
}

/**
 * The last second of event time whose ids may be in one of the entity's buckets: an id of a later
 * second is not, so its bucket need not be read. Only `idsToMove` puts ids there, and it logs each
 * move in `ep` (`m`, the newest event time it moved) in the state saved right after the adds; an
 * epoch leaves `ep` only as the floor rises above its ids, which puts them past the horizon anyway.
 * An entity never stored (new, or deleted while its buckets lived on) may have any. So a stream in
 * order reads no buckets: its events are newer than any id moved yet.
 */
export function lastBucketedSecond(stored: EntityState | undefined): number {
  if (!stored) return Number.POSITIVE_INFINITY;
  let newest = Number.NEGATIVE_INFINITY;
  for (const { m } of stored.ep ?? []) newest = Math.max(newest, eventSecond(m));
  return newest;
}

/**
 * When an entity item may expire (TTL, epoch seconds): by its event time (entity-state.ts
 * `expiresAt`), and an item that moved ids not before every bucket it wrote has (plus an epoch), as
 * its `bx` says, also once its move log is gone. Were the item to go first (by its event-time TTL,
 * under a backlog older than the group's TTL), a new item for the entity would start without the
 * move log or the floor, read none of the buckets, and count a retry of a moved id again. Items
 * written before `bx` existed extend by their move log. Call with the wall clock of the save.
 */
export function itemExpiresAt(state: EntityState, group: FeatureGroup, now: number): number {
  const own = expiresAt(state, group);
  const buckets = Math.max(state.bx ?? 0, state.ep ? idBucketExpiresAt(group, now) : 0);
  return buckets > 0 ? Math.max(own, buckets + ID_EPOCH_MS / 1000) : own;
}

/** Settled ids leaving an entity item for one bucket. */
export interface IdMove {
  readonly key: EntityKey;
  readonly entries: Record<string, RecentEvent>;
}

/**
 * Kept free under the write-unit boundary, for the tiles of the entity's next events. A store that
 * deflates its items (DynamoDB layout 3) does so past one unit less this, so that ids stay in room
 * deflating makes rather than move.
 */
export const ID_ROOM_MARGIN_BYTES = 128;
const MARGIN_BYTES = ID_ROOM_MARGIN_BYTES;
/** Times an item whose ids' bytes are estimated is sized again after a move (two suffice in practice). */
const ESTIMATE_ROUNDS = 3;

/**
 * Takes out of the entity state the settled ids it no longer has room for, oldest first, grouped by
 * bucket: room is what the item's write units leave once it holds none of them (less a margin for
 * the tiles of its next events). Needs the store's billing and id buckets; without them, ids stay.
 */
export function idsToMove(
  group: FeatureGroup,
  key: EntityKey,
  state: EntityState,
  /** The settled ids that may move (asked for only if some must). */
  settledIds: () => readonly (readonly [string, RecentEvent])[],
  store: EntityStore,
  now: number,
): IdMove[] {
  const units = store.writeUnits;
  if (!units || !store.addIds) return [];
  // The units the item needs with what cannot move (its events' tiles, this batch's ids) are paid
  // anyway: movable ids stay in what those units leave, less a margin for the next events' tiles.
  // So an item within one unit less the margin keeps them all (the usual case, decided without
  // sizing each id).
  const unloggedSize = units.sizeOf(key, state);
  if (unloggedSize <= units.unitBytes - MARGIN_BYTES) return [];
  const settled = settledIds();
  if (settled.length === 0) return [];
  // A move is logged in the item it leaves (`bx`, `ep`: some 40 bytes where the epoch is new), so the
  // item is sized as it would be saved after one (on a copy of the log): near a unit boundary, the
  // log alone can take the item into the next unit, for no id kept out of it. The log is written
  // for real once the ids are known, if any move.
  const unlogged = { bx: state.bx, ep: state.ep };
  let newestSettled = Number.NEGATIVE_INFINITY;
  for (const [, entry] of settled) newestSettled = Math.max(newestSettled, entry.t);
  state.ep = unlogged.ep?.map((e) => ({ ...e }));
  let taken: Taken;
  try {
    logMove(state, group, now, newestSettled);
    taken = takeIds(group, key, state, settled, units, unloggedSize);
  } finally {
    if (unlogged.bx === undefined) delete state.bx;
    else state.bx = unlogged.bx;
    if (unlogged.ep === undefined) delete state.ep;
    else state.ep = unlogged.ep;
  }
  if (taken.moves.length > 0) logMove(state, group, now, taken.newest);
  return taken.moves;
}

interface Taken {
  readonly moves: IdMove[];
  /** The newest event time of the ids moved. */
  readonly newest: number;
}

/**
 * `idsToMove` on `state` as it would be saved after a move (its log written): takes the oldest of
 * `settled` out while the item is over its budget, and the rest of the last second it takes from
 * (a bucket is best added to once). None where the item without the log (`unloggedSize`) is within
 * it: the log is only written with a move.
 */
function takeIds(
  group: FeatureGroup,
  key: EntityKey,
  state: EntityState,
  settled: readonly (readonly [string, RecentEvent])[],
  units: NonNullable<EntityStore['writeUnits']>,
  unloggedSize: number,
): Taken {
  const size = units.sizeOf(key, state);
  // An id's bytes depend on the item's checkpoints and shards, not on its other ids: sized once.
  const movable = settled.map(([k, entry]) => ({ k, entry, bytes: units.entryBytes(k, entry, state) }));
  let fixed = size;
  if (units.estimated) {
    // Deflated, an id's bytes are an estimate (its share of the deflated ids), and their sum misses
    // the fixed part by tens of bytes: enough, near a unit boundary, to set the budget a unit low and
    // move every id without saving the unit. What cannot move is sized exactly instead.
    const recent = { ...state.recent };
    for (const m of movable) delete recent[m.k];
    fixed = units.sizeOf(key, { ...state, recent });
  } else for (const m of movable) fixed -= m.bytes;
  const budget = Math.max(fixed, Math.ceil(fixed / units.unitBytes) * units.unitBytes - MARGIN_BYTES);
  const moves = new Map<string, IdMove>();
  let newest = Number.NEGATIVE_INFINITY;
  if (unloggedSize <= budget) return { moves: [], newest };
  let excess = size - budget;
  movable.sort((a, b) => a.entry.t - b.entry.t || (a.k < b.k ? -1 : 1));
  let next = 0;
  const moveNext = () => {
    const { k, entry, bytes } = movable[next++] as (typeof movable)[number];
    const bucket = idBucketKey(group.name, key.entityId, idBucketStart(entry.t));
    const id = entityKeyOf(bucket);
    let move = moves.get(id);
    if (!move) {
      move = { key: bucket, entries: {} };
      moves.set(id, move);
    }
    setOwn(move.entries, unqualified(k), entry);
    delete state.recent[k];
    excess -= bytes;
    newest = entry.t; // oldest first: the last one moved is the newest
  };
  const moveWhileOver = () => {
    while (next < movable.length && excess > 0) moveNext();
  };
  moveWhileOver();
  // Deflated ids take more bytes each as fewer are left (less to share a dictionary with): where the
  // bytes were estimated, the item is sized again and the next oldest move while it is still over.
  for (let round = 0; units.estimated && round < ESTIMATE_ROUNDS && next < movable.length; round++) {
    excess = units.sizeOf(key, state) - budget;
    if (excess <= 0) break;
    for (let j = next; j < movable.length; j++) {
      const m = movable[j] as (typeof movable)[number];
      m.bytes = units.entryBytes(m.k, m.entry, state);
    }
    moveWhileOver();
  }
  // The rest of the last second moved goes with it: a bucket is billed its whole size at every add
  // (UpdateItem bills the larger of the item before and after), so a second added to in one write
  // costs its bytes once, where one split over the moves of several batches costs them again at
  // each. The item only gets smaller for it (its units can only fall); the ids it gives up early are
  // the next oldest, which the next overflow would move anyway.
  while (
    next < movable.length &&
    next > 0 &&
    idBucketStart((movable[next] as (typeof movable)[number]).entry.t) === idBucketStart(newest)
  )
    moveNext();
  return { moves: [...moves.values()], newest };
}

/**
 * Logs a move by epoch in the entity (`newest`: the newest event time it moved): when its buckets
 * may start to expire, and how far up the floor must then go.
 */
function logMove(state: EntityState, group: FeatureGroup, now: number, newest: number): void {
  state.bx = Math.max(state.bx ?? 0, idBucketExpiresAt(group, now));
  state.ep ??= [];
  const last = state.ep[state.ep.length - 1];
  if (last && now - last.w < ID_EPOCH_MS) last.m = Math.max(last.m, newest);
  else state.ep.push({ w: now, m: newest });
}

/**
 * Adds the moved ids to their buckets, before the entities that held them are saved without them.
 * A bucket that could not take them (a failure, an item at its size limit) leaves them in the entity.
 */
export async function moveIds(
  store: EntityStore,
  group: FeatureGroup,
  computed: readonly { readonly out: object & { readonly state: EntityState } }[],
  moves: ReadonlyMap<object, readonly IdMove[]>,
  now: number,
): Promise<void> {
  const expiresAt = idBucketExpiresAt(group, now);
  const writes: { state: EntityState; move: IdMove }[] = [];
  for (const { out } of computed)
    for (const move of moves.get(out) ?? []) writes.push({ state: out.state, move });
  if (writes.length === 0 || !store.addIds) return;
  const results = await store.addIds(
    writes.map(({ move }) => ({ key: move.key, entries: move.entries, expiresAt })),
  );
  const putBack = new Map<EntityState, [string, RecentEvent][]>();
  results.forEach((result, i) => {
    if (!isFailed(result)) return;
    const { state, move } = writes[i] as (typeof writes)[number];
    const back = putBack.get(state) ?? [];
    for (const [k, entry] of Object.entries(move.entries)) {
      const key = secondKey(k, entry.t);
      remember(state, key, entry);
      back.push([key, entry]);
    }
    putBack.set(state, back);
  });
  // Pruning capped the ids before they were put back: cap again, among those (settled ids; the
  // batch's own never move, so a redelivery still reads them).
  for (const [state, back] of putBack) evictOverCap(state, group, back);
}
