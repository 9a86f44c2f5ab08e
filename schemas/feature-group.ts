import type { z } from 'zod';
import type { Classification, EventContract, FieldType } from './contract.js';
import { DefinitionError } from './contract.js';
import { perDefinition } from './per-definition.js';

type FieldOf<C extends EventContract> = Extract<keyof C['fieldTypes'], string>;

/** Latest value of a contract field, by event time (ties broken by event id). */
export interface LatestFeatureSpec<F extends string = string> {
  readonly kind: 'latest';
  readonly field: F;
  readonly description: string;
}

/** Aggregations over sliding event-time windows. `last` is the latest value inside the window. */
export const aggregations = ['count', 'sum', 'min', 'max', 'mean', 'last', 'distinct'] as const;
export type Aggregation = (typeof aggregations)[number];

/** Sliding windows, by event time, and the tile size each is kept in (exact to the tile). */
export const WINDOWS = {
  '5m': { ms: 5 * 60_000, tileMs: 60_000 },
  '1h': { ms: 3_600_000, tileMs: 5 * 60_000 },
  '24h': { ms: 24 * 3_600_000, tileMs: 3_600_000 },
  '7d': { ms: 7 * 24 * 3_600_000, tileMs: 24 * 3_600_000 },
} as const;
export type WindowName = keyof typeof WINDOWS;

/** An aggregation of a field (or of events, for `count`) over one or more sliding windows. */
export interface WindowFeatureSpec<F extends string = string> {
  readonly kind: 'window';
  readonly fn: Aggregation;
  /** The aggregated field; absent for `count`. */
  readonly field?: F;
  readonly windows: readonly WindowName[];
  readonly description: string;
  /** For `distinct`: where the count saturates (see `DEFAULT_MAX_DISTINCT`). */
  readonly maxDistinct?: number;
}

export type FeatureSpec<F extends string = string> = LatestFeatureSpec<F> | WindowFeatureSpec<F>;

export const latest = <F extends string>(field: F, description: string): LatestFeatureSpec<F> => ({
  kind: 'latest',
  field,
  description,
});

/**
 * A `distinct` count saturates: it is the number of distinct values in the window up to this many,
 * and this many when there are more (exactly min(distinct, maxDistinct), online, offline and in the
 * reference alike). Each tile keeps at most this many values, so an entity item stays under
 * DynamoDB's 400 KB whatever the cardinality: a customer paying at 12,000 new merchants an hour
 * (card testing) made its item unwritable before the cap. Risk features need "more than 100", not
 * 12,000 against 12,001.
 */
export const DEFAULT_MAX_DISTINCT = 100;

/**
 * What the distinct values of one group may take in its entity item at most (the rest of the 400 KB
 * is for event ids, about 55 KB at `maxRecentEvents` 500, and for the other tiles and values).
 */
export const MAX_DISTINCT_BYTES = 256 * 1024;

/** `window('sum', 'amountMinor', ['1h', '24h'], ...)` declares `<name>_1h` and `<name>_24h`. */
export const window = <F extends string>(
  fn: Exclude<Aggregation, 'count'>,
  field: F,
  windows: readonly WindowName[],
  description: string,
  options: { readonly maxDistinct?: number } = {},
): WindowFeatureSpec<F> => ({
  kind: 'window',
  fn,
  field,
  windows,
  description,
  ...(options.maxDistinct !== undefined ? { maxDistinct: options.maxDistinct } : {}),
});

/** `count(['5m', '1h'], ...)`: the number of events in each window. */
export const count = (windows: readonly WindowName[], description: string): WindowFeatureSpec<never> => ({
  kind: 'window',
  fn: 'count',
  windows,
  description,
});

/** A feature with everything derived from its source field. */
export interface ResolvedFeature {
  readonly name: string;
  readonly kind: FeatureSpec['kind'];
  /** Source field; for `count`, the contract's event id field. */
  readonly field: string;
  readonly description: string;
  readonly type: FieldType;
  readonly classification: Classification;
  /** For window features. */
  readonly fn?: Aggregation;
  readonly window?: WindowName;
  readonly windowMs?: number;
  readonly tileMs?: number;
  /** For `distinct`: the count saturates here (DEFAULT_MAX_DISTINCT). */
  readonly maxDistinct?: number;
}

export interface FeatureGroupInput<C extends EventContract> {
  /** Group name: the `{group}` of the lookup API and the offline partition `group=`. */
  readonly name: string;
  readonly description: string;
  readonly source: C;
  /** The entity the features describe; `field` is the contract field that carries its id. */
  readonly entity: { readonly name: string; readonly field: FieldOf<C> };
  /** Online values older than this (by event time) are expired. */
  readonly ttlMs: number;
  /** How far behind the entity's newest event an event may be and still be applied; older goes to the late output. */
  readonly allowedLatenessMs: number;
  /**
   * Event ids an entity of the group keyed by the partition key remembers for deduplication. Past
   * it the oldest are evicted and events older than them are decided late, so an item stays well
   * under DynamoDB's 400 KB even for a very hot entity (about 110 bytes per id). @default 500
   */
  readonly maxRecentEvents?: number;
  readonly features: { readonly [name: string]: FeatureSpec<FieldOf<C>> };
}

export interface FeatureGroup {
  readonly name: string;
  readonly description: string;
  readonly source: EventContract;
  readonly entity: {
    readonly name: string;
    readonly field: string;
    /** Validates an entity id, e.g. from a lookup request path; the contract's own field schema. */
    readonly idSchema: z.ZodType<string>;
    readonly classification: Classification;
  };
  readonly ttlMs: number;
  readonly allowedLatenessMs: number;
  readonly maxRecentEvents: number;
  readonly features: readonly ResolvedFeature[];
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;
/** Names the stores use for their own columns; a feature may not take them. */
export const RESERVED_COLUMNS = [
  'pk',
  'group',
  'entity_id',
  'event_time',
  'event_id',
  'ingestion_time',
  'contract_version',
  'expires_at',
  'dt',
];

/**
 * The most lateness a group may allow: less than the week after which the processor raises an
 * entity's floor above ids moved to id buckets (lambdas/core/id-buckets.ts), so that in a live stream
 * the floor never reaches an event within the lateness.
 */
export const MAX_ALLOWED_LATENESS_MS = 6 * 24 * 3_600_000;

export function defineFeatureGroup<C extends EventContract>(input: FeatureGroupInput<C>): FeatureGroup {
  const where = `feature group ${input.name}`;
  if (!NAME.test(input.name)) throw new DefinitionError(`${where}: name must match ${NAME}`);
  if (!NAME.test(input.entity.name)) throw new DefinitionError(`${where}: entity.name must match ${NAME}`);
  if (!(input.ttlMs > 0)) throw new DefinitionError(`${where}: ttlMs must be positive`);
  if (!(input.allowedLatenessMs >= 0 && input.allowedLatenessMs <= MAX_ALLOWED_LATENESS_MS))
    throw new DefinitionError(
      `${where}: allowedLatenessMs must be between 0 and ${MAX_ALLOWED_LATENESS_MS / 86_400_000} days`,
    );
  if (
    input.maxRecentEvents !== undefined &&
    !(Number.isInteger(input.maxRecentEvents) && input.maxRecentEvents >= 10)
  ) {
    throw new DefinitionError(`${where}: maxRecentEvents must be an integer of at least 10`);
  }
  const contract = input.source as EventContract;
  const idSchema = contract.schema.shape[input.entity.field] as z.ZodType<string> | undefined;
  if (!idSchema || contract.fieldTypes[input.entity.field] !== 'string') {
    throw new DefinitionError(
      `${where}: entity.field "${input.entity.field}" must be a string field of ${contract.name}`,
    );
  }
  const features = Object.entries(input.features).flatMap(([name, spec]): ResolvedFeature[] => {
    const field = spec.field ?? contract.eventIdField;
    const type = contract.fieldTypes[field];
    const classification = spec.field ? contract.classification[field] : 'public';
    if (!type || !classification) {
      throw new DefinitionError(`${where}: feature "${name}" reads unknown field "${field}"`);
    }
    if (spec.kind === 'latest')
      return [{ name, kind: 'latest', field, description: spec.description, type, classification }];
    if (spec.fn !== 'count' && !spec.field)
      throw new DefinitionError(`${where}: feature "${name}" (${spec.fn}) needs a field`);
    if (['sum', 'mean'].includes(spec.fn) && type !== 'int64' && type !== 'float64') {
      throw new DefinitionError(
        `${where}: feature "${name}" (${spec.fn}) needs a numeric field, "${field}" is ${type}`,
      );
    }
    if (spec.windows.length === 0)
      throw new DefinitionError(`${where}: feature "${name}" declares no windows`);
    if (spec.maxDistinct !== undefined && spec.fn !== 'distinct')
      throw new DefinitionError(`${where}: feature "${name}" (${spec.fn}) takes no maxDistinct`);
    const maxDistinct = spec.fn === 'distinct' ? (spec.maxDistinct ?? DEFAULT_MAX_DISTINCT) : undefined;
    if (maxDistinct !== undefined && !(Number.isInteger(maxDistinct) && maxDistinct >= 1))
      throw new DefinitionError(`${where}: feature "${name}": maxDistinct must be a positive integer`);
    const aggregateType: FieldType =
      spec.fn === 'count' || spec.fn === 'distinct' ? 'int64' : spec.fn === 'mean' ? 'float64' : type;
    return spec.windows.map((w) => {
      if (!(w in WINDOWS)) throw new DefinitionError(`${where}: feature "${name}" has unknown window "${w}"`);
      return {
        name: `${name}_${w}`,
        kind: 'window',
        field,
        description: `${spec.description} (${w} sliding window)`,
        type: aggregateType,
        classification,
        fn: spec.fn,
        window: w,
        windowMs: WINDOWS[w].ms,
        tileMs: WINDOWS[w].tileMs,
        ...(maxDistinct !== undefined ? { maxDistinct } : {}),
      };
    });
  });
  const distinctBytes = worstDistinctBytes(contract, features);
  if (distinctBytes > MAX_DISTINCT_BYTES) {
    const names = features.filter((f) => f.fn === 'distinct').map((f) => f.name);
    throw new DefinitionError(
      `${where}: the distinct values of ${names.join(', ')} could take ${Math.ceil(distinctBytes / 1024)} KB of an ` +
        `entity item (at most ${MAX_DISTINCT_BYTES / 1024} KB): lower maxDistinct`,
    );
  }
  const seen = new Set<string>();
  for (const f of features) {
    if (
      !NAME.test(f.name) ||
      RESERVED_COLUMNS.includes(f.name) ||
      f.name === input.entity.name ||
      seen.has(f.name)
    ) {
      throw new DefinitionError(`${where}: feature name "${f.name}" is invalid, reserved or repeated`);
    }
    seen.add(f.name);
  }
  if (features.length === 0) throw new DefinitionError(`${where}: declares no features`);
  return {
    name: input.name,
    description: input.description,
    source: contract,
    entity: {
      name: input.entity.name,
      field: input.entity.field,
      idSchema,
      classification: contract.classification[input.entity.field] ?? 'confidential',
    },
    ttlMs: input.ttlMs,
    allowedLatenessMs: input.allowedLatenessMs,
    maxRecentEvents: input.maxRecentEvents ?? 500,
    features,
  };
}

/** The most clock skew any contract may allow (contract.ts); tiles are kept this much longer. */
const MAX_SKEW_MS = 15 * 60_000;

/**
 * The most bytes the distinct values of these features can take in an entity item: per tile size,
 * the tiles pruning keeps (its longest window and the skew, plus one), times the values each keeps
 * (the largest cap of the features sharing the size and field), times a value's bytes in the item's
 * JSON: at most 64 and a separator for a string (a tile keeps a longer one as its digest,
 * lambdas/core/tiles.ts `distinctValue`), 24 for a number.
 */
function worstDistinctBytes(contract: EventContract, features: readonly ResolvedFeature[]): number {
  const longest = new Map<number, number>();
  for (const f of features)
    if (f.kind === 'window')
      longest.set(f.tileMs as number, Math.max(longest.get(f.tileMs as number) ?? 0, f.windowMs as number));
  const caps = new Map<string, { tileMs: number; field: string; cap: number }>();
  for (const f of features) {
    if (f.fn !== 'distinct') continue;
    const key = `${f.tileMs}/${f.field}`;
    const cap = Math.max(caps.get(key)?.cap ?? 0, f.maxDistinct as number);
    caps.set(key, { tileMs: f.tileMs as number, field: f.field, cap });
  }
  let bytes = 0;
  for (const { tileMs, field, cap } of caps.values()) {
    const tiles = Math.ceil(((longest.get(tileMs) ?? 0) + MAX_SKEW_MS) / tileMs) + 1;
    bytes += tiles * cap * valueBytes(contract, field);
  }
  return bytes;
}

function valueBytes(contract: EventContract, field: string): number {
  return contract.fieldTypes[field as keyof typeof contract.fieldTypes] === 'string' ? 64 + 1 : 24;
}

/** A column of the offline store (Parquet file and Glue table alike), in order. */
export interface OfflineColumn {
  readonly name: string;
  readonly type: FieldType | 'int32';
  readonly description: string;
}

/** The features whose values an event carries by itself (latest values): the offline history. */
export const latestFeatures = perDefinition((group: FeatureGroup): ResolvedFeature[] =>
  group.features.filter((f) => f.kind === 'latest'),
);
/** The windowed aggregates, kept online as tiles and combined at read time. */
export const windowFeatures = perDefinition((group: FeatureGroup): ResolvedFeature[] =>
  group.features.filter((f) => f.kind === 'window'),
);

/** The offline feature-history columns of a group; partition column `dt` (UTC date of event time) is extra. */
export function offlineColumns(group: FeatureGroup): OfflineColumn[] {
  return [
    { name: group.entity.name, type: 'string', description: `${group.entity.name} (entity key)` },
    { name: 'event_time', type: 'timestamp', description: 'event time of the source event (UTC)' },
    { name: 'event_id', type: 'string', description: 'producer-assigned event id; unique per event' },
    { name: 'ingestion_time', type: 'timestamp', description: 'arrival time in the stream (UTC)' },
    { name: 'contract_version', type: 'int32', description: `version of the ${group.source.name} contract` },
    ...latestFeatures(group).map((f) => ({ name: f.name, type: f.type, description: f.description })),
  ];
}

/** A contract field as an offline column name: snake_case, as Glue and Athena expect. */
const columnNames = new Map<string, string>();
export function columnName(field: string): string {
  let name = columnNames.get(field);
  if (name === undefined) {
    name = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    columnNames.set(field, name);
  }
  return name;
}

/** The raw-events dataset of a contract: the event's current shape, one row per applied event. */
export function eventColumns(contract: EventContract): OfflineColumn[] {
  const skip = new Set<string>([contract.eventIdField, contract.eventTimeField]);
  return [
    { name: 'event_id', type: 'string', description: 'producer-assigned event id; unique per event' },
    { name: 'event_time', type: 'timestamp', description: 'event time (UTC)' },
    { name: 'ingestion_time', type: 'timestamp', description: 'arrival time in the stream (UTC)' },
    {
      name: 'contract_version',
      type: 'int32',
      description: `version of the ${contract.name} contract the producer sent`,
    },
    ...Object.entries(contract.fieldTypes)
      .filter(([field]) => !skip.has(field))
      .map(([field, type]) => ({
        name: columnName(field),
        type: type as FieldType,
        description: `${field} (${contract.classification[field as keyof typeof contract.classification]})`,
      })),
  ];
}
