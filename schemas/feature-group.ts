import type { z } from 'zod';
import type { Classification, EventContract, FieldType } from './contract.js';
import { DefinitionError } from './contract.js';

type FieldOf<C extends EventContract> = Extract<keyof C['fieldTypes'], string>;

/** Latest value of a contract field, by event time (ties broken by event id). */
export interface LatestFeatureSpec<F extends string = string> {
  readonly kind: 'latest';
  readonly field: F;
  readonly description: string;
}

export type FeatureSpec<F extends string = string> = LatestFeatureSpec<F>;

export const latest = <F extends string>(field: F, description: string): LatestFeatureSpec<F> => ({
  kind: 'latest',
  field,
  description,
});

/** A feature with everything derived from its source field. */
export interface ResolvedFeature {
  readonly name: string;
  readonly kind: FeatureSpec['kind'];
  readonly field: string;
  readonly description: string;
  readonly type: FieldType;
  readonly classification: Classification;
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
  /** How far behind the arrival time an event may be and still be applied; later goes to the late output. */
  readonly allowedLatenessMs: number;
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

export function defineFeatureGroup<C extends EventContract>(input: FeatureGroupInput<C>): FeatureGroup {
  const where = `feature group ${input.name}`;
  if (!NAME.test(input.name)) throw new DefinitionError(`${where}: name must match ${NAME}`);
  if (!NAME.test(input.entity.name)) throw new DefinitionError(`${where}: entity.name must match ${NAME}`);
  if (!(input.ttlMs > 0)) throw new DefinitionError(`${where}: ttlMs must be positive`);
  if (!(input.allowedLatenessMs >= 0)) throw new DefinitionError(`${where}: allowedLatenessMs must be >= 0`);
  const contract = input.source as EventContract;
  const idSchema = contract.schema.shape[input.entity.field] as z.ZodType<string> | undefined;
  if (!idSchema || contract.fieldTypes[input.entity.field] !== 'string') {
    throw new DefinitionError(
      `${where}: entity.field "${input.entity.field}" must be a string field of ${contract.name}`,
    );
  }
  const features = Object.entries(input.features).map(([name, spec]): ResolvedFeature => {
    if (!NAME.test(name) || RESERVED_COLUMNS.includes(name) || name === input.entity.name) {
      throw new DefinitionError(`${where}: feature name "${name}" is invalid or reserved`);
    }
    const type = contract.fieldTypes[spec.field];
    const classification = contract.classification[spec.field];
    if (!type || !classification) {
      throw new DefinitionError(`${where}: feature "${name}" reads unknown field "${spec.field}"`);
    }
    return { name, kind: spec.kind, field: spec.field, description: spec.description, type, classification };
  });
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
    features,
  };
}

/** A column of the offline store (Parquet file and Glue table alike), in order. */
export interface OfflineColumn {
  readonly name: string;
  readonly type: FieldType | 'int32';
  readonly description: string;
}

/** The offline feature-history columns of a group; partition column `dt` (UTC date of event time) is extra. */
export function offlineColumns(group: FeatureGroup): OfflineColumn[] {
  return [
    { name: group.entity.name, type: 'string', description: `${group.entity.name} (entity key)` },
    { name: 'event_time', type: 'timestamp', description: 'event time of the source event (UTC)' },
    { name: 'event_id', type: 'string', description: 'producer-assigned event id; unique per event' },
    { name: 'ingestion_time', type: 'timestamp', description: 'arrival time in the stream (UTC)' },
    { name: 'contract_version', type: 'int32', description: `version of the ${group.source.name} contract` },
    ...group.features.map((f) => ({ name: f.name, type: f.type, description: f.description })),
  ];
}
