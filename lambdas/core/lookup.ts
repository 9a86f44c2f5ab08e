/**
 * Feature lookup for model services: rows of entities x feature references across groups, read
 * with one projected load per group (only the requested values; tiles only if a window is asked),
 * latest values with their event times, windowed aggregates combined from tiles as of the request
 * time, TTL enforced at read time (DynamoDB's own TTL deletes lazily, up to days later) and
 * features above the caller's clearance masked (PII, unless cleared).
 */
import type { Classification, FeatureGroup, ResolvedFeature } from '../../schemas/index.js';
import type { EntityKey, EntityStore, FeatureValue, StoredEntity } from './ports.js';
import { evaluateWindows } from './tiles.js';

/** `present` (null if the event lacked the field), `not_found` (no such entity), `expired` (older than the TTL), `masked` (PII). */
export type FeatureStatus = 'present' | 'not_found' | 'expired' | 'masked';

export interface FeatureCell {
  readonly value: FeatureValue;
  /** Latest values: the event time they come from. Window aggregates: the time they are computed as of. */
  readonly eventTime: string | null;
  readonly status: FeatureStatus;
}

/** A requested feature: `<group>:<feature>`. */
export interface FeatureRef {
  readonly ref: string;
  readonly group: FeatureGroup;
  readonly feature: ResolvedFeature;
}

export interface LookupRequest {
  /** Per row, the entity ids by entity name (`customer_id`, `merchant_id`). */
  readonly entities: readonly Readonly<Record<string, string>>[];
  readonly features: readonly FeatureRef[];
  /** Whether the caller may see values of this classification in clear (otherwise they are masked). */
  readonly sees: (classification: Classification) => boolean;
  readonly now: number;
}

export interface LookupRow {
  readonly entity: Readonly<Record<string, string>>;
  readonly features: Readonly<Record<string, FeatureCell>>;
  /** Per group: request time minus the event time of the values; null when not found or expired. */
  readonly freshnessMs: Readonly<Record<string, number | null>>;
  /** Per group: the event the latest values come from (null when not found or expired). */
  readonly events: Readonly<
    Record<
      string,
      { readonly eventId: string; readonly eventTime: string; readonly ingestionTime: string } | null
    >
  >;
}

export async function lookupFeatures(store: EntityStore, request: LookupRequest): Promise<LookupRow[]> {
  const byGroup = new Map<FeatureGroup, FeatureRef[]>();
  for (const f of request.features) byGroup.set(f.group, [...(byGroup.get(f.group) ?? []), f]);
  const asOf = new Date(request.now).toISOString();
  const windowNames = new Map(
    [...byGroup].map(([g, refs]) => [
      g,
      new Set(refs.filter((r) => r.feature.kind === 'window').map((r) => r.feature.name)),
    ]),
  );

  const loaded = new Map<FeatureGroup, (StoredEntity | undefined)[]>();
  await Promise.all(
    [...byGroup].map(async ([group, refs]) => {
      const keys: EntityKey[] = request.entities.map((e) => ({
        group: group.name,
        entityId: e[group.entity.name] as string,
      }));
      const options = {
        latest: refs.filter((r) => r.feature.kind === 'latest').map((r) => r.feature.name),
        tiles: refs.some((r) => r.feature.kind === 'window'),
      };
      loaded.set(group, await store.load(keys, options));
    }),
  );

  return request.entities.map((entity, row) => {
    const features: Record<string, FeatureCell> = {};
    const freshnessMs: Record<string, number | null> = {};
    const events: Record<string, LookupRow['events'][string]> = {};
    for (const [group, refs] of byGroup) {
      const latest = loaded.get(group)?.[row]?.state.latest;
      const stored = loaded.get(group)?.[row];
      const status: FeatureStatus | undefined = !latest
        ? 'not_found'
        : latest.eventTime + group.ttlMs <= request.now
          ? 'expired'
          : undefined;
      freshnessMs[group.name] = status || !latest ? null : Math.max(0, request.now - latest.eventTime);
      const latestTime = status || !latest ? null : new Date(latest.eventTime).toISOString();
      events[group.name] =
        status || !latest
          ? null
          : {
              eventId: latest.eventId,
              eventTime: latestTime as string,
              ingestionTime: new Date(latest.ingestionTime).toISOString(),
            };
      const windows =
        !status && windowNames.get(group)?.size
          ? evaluateWindows(group, stored?.state.tiles ?? {}, request.now, windowNames.get(group))
          : {};
      for (const { ref, feature } of refs) {
        const windowed = feature.kind === 'window';
        const eventTime = windowed && latestTime ? asOf : latestTime;
        if (status) features[ref] = { value: null, eventTime: null, status };
        else if (!request.sees(feature.classification))
          features[ref] = { value: null, eventTime, status: 'masked' };
        else
          features[ref] = {
            value: (windowed ? windows[feature.name] : latest?.values[feature.name]) ?? null,
            eventTime,
            status: 'present',
          };
      }
    }
    return { entity, features, freshnessMs, events };
  });
}
