/**
 * Feature lookup: the latest values of one entity in one group with their event times, and its
 * windowed aggregates combined from tiles as of the request time; expired by the group's TTL at
 * read time (DynamoDB's own TTL deletes lazily, up to days later); PII-classified features masked.
 */
import type { FeatureGroup } from '../../schemas/index.js';
import type { EntityStore, FeatureValue } from './ports.js';
import { evaluateWindows } from './tiles.js';

export type FeatureStatus = 'present' | 'missing' | 'masked';

export interface FeatureView {
  readonly value: FeatureValue;
  /** Latest values: the event time they come from. Window aggregates: the time they are computed as of. */
  readonly eventTime: string;
  readonly status: FeatureStatus;
}

export interface EntityFeatures {
  readonly group: string;
  readonly entity: { readonly name: string; readonly id: string };
  readonly eventId: string;
  readonly eventTime: string;
  readonly ingestionTime: string;
  /** How old the values are: request time minus event time. */
  readonly freshnessMs: number;
  readonly features: Readonly<Record<string, FeatureView>>;
}

export type LookupResult =
  | { readonly found: true; readonly features: EntityFeatures }
  | { readonly found: false; readonly reason: 'unknown' | 'expired' };

export async function lookupEntity(
  group: FeatureGroup,
  entityId: string,
  store: EntityStore,
  now: number,
): Promise<LookupResult> {
  const [stored] = await store.load([{ group: group.name, entityId }]);
  const record = stored?.state.latest;
  if (!stored || !record) return { found: false, reason: 'unknown' };
  if (record.eventTime + group.ttlMs <= now) return { found: false, reason: 'expired' };
  const eventTime = new Date(record.eventTime).toISOString();
  const asOf = new Date(now).toISOString();
  const windows = evaluateWindows(group, stored.state.tiles, now);
  const features: Record<string, FeatureView> = {};
  for (const f of group.features) {
    const windowed = f.kind === 'window';
    const value = (windowed ? windows[f.name] : record.values[f.name]) ?? null;
    const at = windowed ? asOf : eventTime;
    features[f.name] =
      f.classification === 'pii'
        ? { value: null, eventTime: at, status: 'masked' }
        : { value, eventTime: at, status: value === null ? 'missing' : 'present' };
  }
  return {
    found: true,
    features: {
      group: group.name,
      entity: { name: group.entity.name, id: entityId },
      eventId: record.eventId,
      eventTime,
      ingestionTime: new Date(record.ingestionTime).toISOString(),
      freshnessMs: Math.max(0, now - record.eventTime),
      features,
    },
  };
}
