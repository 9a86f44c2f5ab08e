/**
 * Latest-value features in event time. The order of two events is (eventTime, eventId): the later
 * event time wins and equal times are broken by the larger event id, so the stored value is a
 * function of the set of events alone, whatever order they arrive in.
 */
import type { FeatureGroup } from '../../schemas/index.js';
import type { ValidEvent } from './decode.js';
import type { FeatureRecord, FeatureValue } from './ports.js';

/** Negative if a is older than b, zero for the same event, positive if newer. */
export function compareEventOrder(
  a: { readonly eventTime: number; readonly eventId: string },
  b: { readonly eventTime: number; readonly eventId: string },
): number {
  if (a.eventTime !== b.eventTime) return a.eventTime - b.eventTime;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

function featureValue(raw: unknown, type: FeatureGroup['features'][number]['type']): FeatureValue {
  if (raw === undefined || raw === null) return null;
  if (type === 'timestamp') return new Date(String(raw)).toISOString();
  return raw as FeatureValue;
}

/** The feature record an event produces for one group. */
export function toFeatureRecord(
  group: FeatureGroup,
  event: ValidEvent,
  ingestionTime: number,
): FeatureRecord {
  const values: Record<string, FeatureValue> = {};
  for (const feature of group.features)
    values[feature.name] = featureValue(event.fields[feature.field], feature.type);
  return {
    group: group.name,
    entityId: String(event.fields[group.entity.field]),
    eventTime: event.eventTime,
    eventId: event.eventId,
    ingestionTime,
    contractVersion: event.contractVersion,
    values,
    expiresAt: Math.ceil((event.eventTime + group.ttlMs) / 1000),
  };
}

export const entityKeyOf = (r: { readonly group: string; readonly entityId: string }): string =>
  `${r.group}#${r.entityId}`;

/** Keeps only the newest record per entity key: one online write per entity per batch. */
export function newestPerEntity<T extends FeatureRecord>(records: readonly T[]): T[] {
  const newest = new Map<string, T>();
  for (const record of records) {
    const key = entityKeyOf(record);
    const current = newest.get(key);
    if (!current || compareEventOrder(record, current) > 0) newest.set(key, record);
  }
  return [...newest.values()];
}

/** UTC date (yyyy-mm-dd) of an epoch-ms time: the offline partition `dt`. */
export const utcDate = (epochMs: number): string => new Date(epochMs).toISOString().slice(0, 10);
