/**
 * Event-time order. Two events are ordered by (eventTime, eventId): the later event time wins and
 * equal times are broken by the larger event id, so a latest value is a function of the set of
 * events alone, whatever order they arrive in.
 */
import type { FeatureGroup } from '../../schemas/index.js';
import { latestFeatures } from '../../schemas/index.js';
import type { FeatureValue } from './ports.js';

/** Negative if a is older than b, zero for the same event, positive if newer. */
export function compareEventOrder(
  a: { readonly eventTime: number; readonly eventId: string },
  b: { readonly eventTime: number; readonly eventId: string },
): number {
  if (a.eventTime !== b.eventTime) return a.eventTime - b.eventTime;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

export const entityKeyOf = (r: { readonly group: string; readonly entityId: string }): string =>
  `${r.group}#${r.entityId}`;

const DAY_MS = 86_400_000;
const dates = new Map<number, string>();
/** UTC date (yyyy-mm-dd) of an epoch-ms time: the offline partition `dt` (memoised per day: it is on the hot path). */
export function utcDate(epochMs: number): string {
  const day = Math.floor(epochMs / DAY_MS);
  let date = dates.get(day);
  if (date === undefined) {
    date = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (dates.size > 10_000) dates.clear();
    dates.set(day, date);
  }
  return date;
}

/** A field's value as a feature value: absent is null, timestamps normalised to ISO-8601 UTC. */
export function featureValueOf(raw: unknown, type: string): FeatureValue {
  if (raw === undefined || raw === null) return null;
  if (type === 'timestamp') return new Date(String(raw)).toISOString();
  return raw as FeatureValue;
}

/** The latest-value features a group takes from one event's fields. */
export function latestValuesOf(
  group: FeatureGroup,
  fields: Readonly<Record<string, unknown>>,
): Record<string, FeatureValue> {
  const values: Record<string, FeatureValue> = {};
  for (const f of latestFeatures(group)) values[f.name] = featureValueOf(fields[f.field], f.type);
  return values;
}
