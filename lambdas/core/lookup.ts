/**
 * Feature lookup for model services: rows of entities x feature references across groups, read
 * with one projected load per group (only the requested values; tiles only if a window is asked),
 * latest values with their event times, windowed aggregates combined from tiles as of the request
 * time, TTL enforced at read time (DynamoDB's own TTL deletes lazily, up to days later) and
 * features above the caller's clearance masked (PII, unless cleared).
 */
import type { Classification, FeatureGroup, ResolvedFeature } from '../../schemas/index.js';
import type { EntityStore, FeatureValue, LoadOptions, StoredEntity } from './ports.js';
import { evaluatePlan, type WindowReadPlan, windowReadPlan } from './tiles.js';

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

/** What a request needs of one group, worked out once per request rather than per row. */
interface GroupRead {
  readonly group: FeatureGroup;
  readonly refs: readonly {
    readonly ref: string;
    readonly name: string;
    readonly windowed: boolean;
    readonly masked: boolean;
  }[];
  readonly windows: WindowReadPlan | undefined;
  readonly options: LoadOptions;
}

export async function lookupFeatures(store: EntityStore, request: LookupRequest): Promise<LookupRow[]> {
  const byGroup = new Map<FeatureGroup, FeatureRef[]>();
  for (const f of request.features) byGroup.set(f.group, [...(byGroup.get(f.group) ?? []), f]);
  const asOf = new Date(request.now).toISOString();
  const reads: GroupRead[] = [...byGroup].map(([group, refs]) => {
    const windowNames = new Set(refs.filter((r) => r.feature.kind === 'window').map((r) => r.feature.name));
    return {
      group,
      refs: refs.map((r) => ({
        ref: r.ref,
        name: r.feature.name,
        windowed: r.feature.kind === 'window',
        masked: !request.sees(r.feature.classification),
      })),
      windows: windowNames.size > 0 ? windowReadPlan(group, windowNames) : undefined,
      options: {
        latest: refs.filter((r) => r.feature.kind === 'latest').map((r) => r.feature.name),
        tiles: windowNames.size > 0,
      },
    };
  });

  const loaded = await Promise.all(
    reads.map(({ group, options }) =>
      store.load(
        request.entities.map((e) => ({ group: group.name, entityId: e[group.entity.name] as string })),
        options,
      ),
    ),
  );
  // ISO-8601 of the event times met, once each (rows share them, and toISOString is not free).
  const isoOf = new Map<number, string>();
  const iso = (t: number) => {
    let s = isoOf.get(t);
    if (s === undefined) {
      s = new Date(t).toISOString();
      isoOf.set(t, s);
    }
    return s;
  };

  /** One group's part of a row: the same for every row that names the same stored entity. */
  interface Part {
    readonly cells: readonly (readonly [string, FeatureCell])[];
    readonly freshnessMs: number | null;
    readonly event: LookupRow['events'][string];
  }
  const partOf = (read: GroupRead, stored: StoredEntity | undefined): Part => {
    const { group, refs, windows } = read;
    const latest = stored?.state.latest;
    const status: FeatureStatus | undefined = !latest
      ? 'not_found'
      : latest.eventTime + group.ttlMs <= request.now
        ? 'expired'
        : undefined;
    if (status || !latest || !stored) {
      const cell: FeatureCell = { value: null, eventTime: null, status: status ?? 'not_found' };
      return { cells: refs.map(({ ref }) => [ref, cell] as const), freshnessMs: null, event: null };
    }
    const latestTime = iso(latest.eventTime);
    const aggregates = windows ? evaluatePlan(windows, stored.state.tiles, request.now) : undefined;
    return {
      cells: refs.map(({ ref, name, windowed, masked }) => {
        const eventTime = windowed ? asOf : latestTime;
        const cell: FeatureCell = masked
          ? { value: null, eventTime, status: 'masked' }
          : {
              value: (windowed ? aggregates?.[name] : latest.values[name]) ?? null,
              eventTime,
              status: 'present',
            };
        return [ref, cell] as const;
      }),
      freshnessMs: Math.max(0, request.now - latest.eventTime),
      event: { eventId: latest.eventId, eventTime: latestTime, ingestionTime: iso(latest.ingestionTime) },
    };
  };
  // A request often names an entity more than once (a busy merchant on many rows): its part is
  // worked out once. Stores hand out one object per distinct item, so identity is the key.
  const parts = reads.map(() => new Map<StoredEntity | undefined, Part>());

  return request.entities.map((entity, row) => {
    const features: Record<string, FeatureCell> = {};
    const freshnessMs: Record<string, number | null> = {};
    const events: Record<string, LookupRow['events'][string]> = {};
    for (let g = 0; g < reads.length; g++) {
      const read = reads[g] as GroupRead;
      const stored = loaded[g]?.[row];
      const memo = parts[g] as Map<StoredEntity | undefined, Part>;
      let part = memo.get(stored);
      if (!part) {
        part = partOf(read, stored);
        memo.set(stored, part);
      }
      for (const [ref, cell] of part.cells) features[ref] = cell;
      freshnessMs[read.group.name] = part.freshnessMs;
      events[read.group.name] = part.event;
    }
    return { entity, features, freshnessMs, events };
  });
}
