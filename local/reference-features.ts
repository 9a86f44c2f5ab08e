/**
 * A reference recomputation of every feature from the raw events, written independently of the
 * processor (no tiles, no checkpoints, no stores): dedupe by event id, decide lateness against the
 * partition-key entity's newest event time, and compute latest values and windows by brute force.
 * Used to check the platform end to end (`npm start`) and by the property tests.
 */
import { RECENT_MARGIN_MS } from '../lambdas/core/entity-state.js';
import {
  DEFAULT_MAX_DISTINCT,
  type EventContract,
  type FeatureGroup,
  type ResolvedFeature,
} from '../schemas/index.js';

export interface ReferenceEvent {
  readonly contract: EventContract;
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface ReferenceEntity {
  readonly group: string;
  readonly entityId: string;
  readonly latest: {
    readonly eventId: string;
    readonly eventTime: number;
    readonly values: Record<string, unknown>;
  };
  readonly events: readonly {
    readonly eventTime: number;
    readonly eventId: string;
    readonly fields: Readonly<Record<string, unknown>>;
  }[];
}

export interface ReferenceResult {
  readonly counts: { applied: number; duplicates: number; late: number };
  readonly entities: ReadonlyMap<string, ReferenceEntity>;
}

const time = (e: ReferenceEvent) => Date.parse(String(e.fields[e.contract.eventTimeField]));
const id = (e: ReferenceEvent) => String(e.fields[e.contract.eventIdField]);

/** `events` in the order their partition key's records reach the processor (send order per key). */
export function referenceFeatures(
  events: readonly ReferenceEvent[],
  groupsFedBy: (c: string) => readonly FeatureGroup[],
): ReferenceResult {
  const seen = new Set<string>(); // event ids; remembered while within the lateness horizon (+ margin)
  const newest = new Map<string, number>(); // partition-key entity -> newest applied event time
  const entities = new Map<
    string,
    {
      group: string;
      entityId: string;
      latest: ReferenceEntity['latest'];
      events: ReferenceEntity['events'][number][];
    }
  >();
  const counts = { applied: 0, duplicates: 0, late: 0 };
  for (const e of events) {
    const key = `${e.contract.name}#${id(e)}`;
    const t = time(e);
    const groups = groupsFedBy(e.contract.name);
    const pk = String(e.fields[e.contract.partitionKeyField]);
    const max = newest.get(pk);
    const authority = groups.find((g) => g.entity.field === e.contract.partitionKeyField);
    // As the processor: judged by the start of the event's second (an event is its id within it).
    const second = Math.floor(t / 1000) * 1000;
    const forgotten =
      max !== undefined && second < max - (authority?.allowedLatenessMs ?? 0) - RECENT_MARGIN_MS;
    if (seen.has(key) && !forgotten) {
      counts.duplicates++;
      continue;
    }
    seen.add(key);
    const onTime = groups.filter((g) => max === undefined || t >= max - g.allowedLatenessMs);
    if (onTime.length === 0) {
      counts.late++;
      continue;
    }
    counts.applied++;
    if (authority && onTime.includes(authority)) newest.set(pk, Math.max(max ?? t, t));
    for (const g of onTime) {
      const entityId = String(e.fields[g.entity.field]);
      const k = `${g.name}#${entityId}`;
      const values: Record<string, unknown> = {};
      for (const f of g.features) if (f.kind === 'latest') values[f.name] = e.fields[f.field] ?? null;
      const entity = entities.get(k) ?? {
        group: g.name,
        entityId,
        latest: { eventId: id(e), eventTime: t, values },
        events: [],
      };
      if (t > entity.latest.eventTime || (t === entity.latest.eventTime && id(e) > entity.latest.eventId)) {
        entity.latest = { eventId: id(e), eventTime: t, values };
      }
      entity.events.push({ eventTime: t, eventId: id(e), fields: e.fields });
      entities.set(k, entity);
    }
  }
  return { counts, entities };
}

/** A window feature by brute force over the entity's events, with the tiles' inclusion rule (exact to the tile). */
export function referenceWindow(
  f: ResolvedFeature,
  events: ReferenceEntity['events'],
  asOf: number,
): unknown {
  const tileMs = f.tileMs as number;
  const inWindow = events.filter((e) => {
    const start = Math.floor(e.eventTime / tileMs) * tileMs;
    return start + tileMs > asOf - (f.windowMs as number) && start <= asOf;
  });
  const values = inWindow.map((e) => e.fields[f.field]).filter((v) => v !== null && v !== undefined) as (
    | string
    | number
  )[];
  switch (f.fn) {
    case 'count':
      return inWindow.length;
    case 'sum':
      return (values as number[]).reduce((a, b) => a + b, 0);
    case 'mean':
      return values.length === 0 ? null : (values as number[]).reduce((a, b) => a + b, 0) / values.length;
    case 'min':
      // biome-ignore lint/complexity/useMathMinMax: values may be strings, which Math.min cannot order
      return values.length === 0 ? null : values.reduce((a, b) => (b < a ? b : a));
    case 'max':
      // biome-ignore lint/complexity/useMathMinMax: values may be strings, which Math.max cannot order
      return values.length === 0 ? null : values.reduce((a, b) => (b > a ? b : a));
    case 'distinct':
      // The count saturates at the feature's cap (feature-group.ts DEFAULT_MAX_DISTINCT).
      return Math.min(new Set(values).size, f.maxDistinct ?? DEFAULT_MAX_DISTINCT);
    case 'last': {
      const withValue = inWindow.filter((e) => e.fields[f.field] !== null && e.fields[f.field] !== undefined);
      const last = withValue.reduce<(typeof withValue)[number] | undefined>(
        (a, e) =>
          !a || e.eventTime > a.eventTime || (e.eventTime === a.eventTime && e.eventId > a.eventId) ? e : a,
        undefined,
      );
      return last ? last.fields[f.field] : null;
    }
    default:
      return undefined;
  }
}

export const windowsOf = (group: FeatureGroup) => group.features.filter((f) => f.kind === 'window');
