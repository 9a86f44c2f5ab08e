/**
 * Feature lookup: the stored latest values of one entity in one group, with their event times,
 * expired by the group's TTL at read time (DynamoDB's own TTL deletes lazily, up to days later)
 * and PII-classified features masked.
 */
import type { FeatureGroup } from '../../schemas/index.js';
import type { FeatureValue, OnlineStore } from './ports.js';

export type FeatureStatus = 'present' | 'missing' | 'masked';

export interface FeatureView {
  readonly value: FeatureValue;
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
  store: OnlineStore,
  now: number,
): Promise<LookupResult> {
  const [record] = await store.getLatest([{ group: group.name, entityId }]);
  if (!record) return { found: false, reason: 'unknown' };
  if (record.eventTime + group.ttlMs <= now) return { found: false, reason: 'expired' };
  const eventTime = new Date(record.eventTime).toISOString();
  const features: Record<string, FeatureView> = {};
  for (const f of group.features) {
    const value = record.values[f.name] ?? null;
    features[f.name] =
      f.classification === 'pii'
        ? { value: null, eventTime, status: 'masked' }
        : { value, eventTime, status: value === null ? 'missing' : 'present' };
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
