/**
 * Where an authority entity remembers the event ids it decided (for producer retries): in id
 * buckets, items of their own, one per entity per second of event time, next to the entity.
 *
 * Why not in the entity item: an entity item is rewritten whole at every batch, so ids kept there
 * are paid for again at every write for the whole lateness horizon. A customer at 100 events/s holds
 * 420,000 ids in a 70-minute horizon; capped at `maxRecentEvents`, its item is 56 KB (56 write units
 * a batch) and its effective lateness shrinks to seconds. An id bucket is written only while its
 * second of event time receives events, so an id is paid for about once, and the entity item stays
 * about 1 KB. A retry carries its original's event time, so it finds the original's id in the
 * bucket of that time: one bucket read per record's second, loaded with the entity.
 *
 * Buckets expire by TTL, on the wall clock. So that none expires while its ids can still be asked
 * for, the entity keeps an id epoch (`ep`): at most once a day, the eviction floor rises to the
 * entity's newest event time as of the previous epoch (events that old are past any lateness a
 * group can have). Ids at or above the floor were then written in the last two epochs, and buckets
 * outlive that (`ID_BUCKET_SLACK_MS`). After a longer idle spell, the floor rises to the newest event
 * time itself: a retry of anything older is decided late, never applied twice.
 *
 * A bucket holds at most `ID_BUCKET_CAPACITY` ids (at most about 250 KB, under the 400 KB item
 * limit): more events than that for one entity in one second of event time are remembered in the
 * entity item itself, bounded by `maxRecentEvents` and its floor, as before buckets existed.
 */
import type { FeatureGroup } from '../../schemas/index.js';
import { perDefinition } from '../../schemas/per-definition.js';
import { RECENT_MARGIN_MS } from './entity-state.js';
import type { EntityKey, EntityState } from './ports.js';

/** Event time covered by one bucket. */
export const ID_BUCKET_MS = 1_000;
/** Ids per bucket: entries are at most about 250 bytes (a 128-character id, its record, late groups). */
export const ID_BUCKET_CAPACITY = 1_000;
/** How often the id epoch turns. */
export const ID_EPOCH_MS = 24 * 3_600_000;
/** How much longer than the id horizon a bucket lives past its write (or its time, if later). */
export const ID_BUCKET_SLACK_MS = 3 * ID_EPOCH_MS;

/** The group name under which a group's id buckets are stored (never a feature group's name: `/` is not allowed there). */
export const idBucketGroup = perDefinition((group: FeatureGroup): string => `${group.name}/ids`);

export const idBucketStart = (eventTime: number): number =>
  Math.floor(eventTime / ID_BUCKET_MS) * ID_BUCKET_MS;

/** The bucket holding the ids of one entity's events in the second starting at `start` (idBucketStart). */
export const idBucketKey = (group: FeatureGroup, entityId: string, start: number): EntityKey => ({
  group: idBucketGroup(group),
  entityId: `${entityId}@${start}`,
});

const horizonMs = (group: FeatureGroup) => group.allowedLatenessMs + RECENT_MARGIN_MS;

/** TTL of a bucket written now: past the id horizon of its time or of now, whichever is later, plus the slack. */
export function idBucketExpiresAt(group: FeatureGroup, key: EntityKey, now: number): number {
  const start = Number(key.entityId.slice(key.entityId.lastIndexOf('@') + 1));
  return Math.ceil((Math.max(start + ID_BUCKET_MS, now) + horizonMs(group) + ID_BUCKET_SLACK_MS) / 1000);
}

/**
 * Turns the entity's id epoch if a day has passed since it last turned, raising the floor so that
 * every id at or above it is in a bucket that is still alive. Call before deciding a batch's records.
 */
export function turnIdEpoch(state: EntityState, group: FeatureGroup, now: number): void {
  const ep = state.ep;
  if (!ep) {
    state.ep = { w: now, m: state.maxEventTime };
    return;
  }
  if (now - ep.w < ID_EPOCH_MS) return;
  // Ids decided since the last turn are in buckets written since `ep.w`, alive until at least
  // ep.w + horizon + slack. They must outlive the coming epoch (decisions until now + ID_EPOCH_MS).
  const previousAlive = ep.w + horizonMs(group) + ID_BUCKET_SLACK_MS >= now + ID_EPOCH_MS;
  const floorAt = previousAlive ? ep.m : state.maxEventTime;
  if (floorAt !== null) state.floor = Math.max(state.floor ?? floorAt + 1, floorAt + 1);
  state.ep = { w: now, m: state.maxEventTime };
}
