import { z } from 'zod';

/** How sensitive a field is. Drives masking in the lookup API and tokenization at ingestion. */
export const classifications = ['public', 'confidential', 'pii'] as const;
export type Classification = (typeof classifications)[number];

/** Column types a contract field can carry into the stores (derived from the zod schema). */
export type FieldType = 'string' | 'int64' | 'float64' | 'boolean' | 'timestamp';

type FieldName<S extends z.ZodObject> = Extract<keyof z.infer<S>, string>;

/** Glue Schema Registry compatibility modes (the `_ALL` ones check every earlier version, not just the last). */
export const compatibilityModes = [
  'NONE',
  'DISABLED',
  'BACKWARD',
  'BACKWARD_ALL',
  'FORWARD',
  'FORWARD_ALL',
  'FULL',
  'FULL_ALL',
] as const;
export type CompatibilityMode = (typeof compatibilityModes)[number];

/** An earlier version of a contract, and how an event of it becomes an event of the next version. */
export interface PreviousVersion {
  readonly version: number;
  readonly schema: z.ZodObject;
  /** To the next version's shape (declared defaults, derived fields). @default unchanged */
  readonly upgrade?: (event: Record<string, unknown>) => Record<string, unknown>;
}

/** A data-quality rule beyond types: a violation quarantines the record with the rule's name and description. */
export interface QualityRule<S extends z.ZodObject = z.ZodObject> {
  readonly name: string;
  readonly description: string;
  readonly check: (event: z.infer<S>) => boolean;
}

/** A versioned event contract: the one description of an event that every part derives from. */
export interface EventContract<S extends z.ZodObject = z.ZodObject> {
  /** Stable contract name, carried in every record envelope (`contract`). */
  readonly name: string;
  /** Current version, carried in every record envelope (`version`). */
  readonly version: number;
  readonly description: string;
  readonly schema: S;
  /** Producer-assigned unique id of the event; the unit of deduplication. */
  readonly eventIdField: FieldName<S>;
  /** Event time (ISO-8601 with offset); all features are computed in event time. */
  readonly eventTimeField: FieldName<S>;
  /**
   * The field producers must use as the Kinesis partition key. Kinesis keeps order per partition
   * key, and exactly-once processing relies on it; a record keyed otherwise is quarantined.
   */
  readonly partitionKeyField: FieldName<S>;
  /** Classification of every field; the type forces each field to be classified. */
  readonly classification: { readonly [K in FieldName<S>]-?: Classification };
  /** Column type of every field, derived once from the schema. */
  readonly fieldTypes: { readonly [K in FieldName<S>]: FieldType };
  /** Earlier versions, oldest first; the processor accepts them and upgrades them to `schema`. */
  readonly previousVersions: readonly PreviousVersion[];
  /** How each new version must relate to the registered ones (checked by `npm run contracts:check`). */
  readonly compatibility: CompatibilityMode;
  readonly rules: readonly QualityRule<S>[];
  /** How far ahead of its arrival an event time may be (clock skew); further is quarantined. */
  readonly maxFutureSkewMs: number;
}

export interface ContractInput<S extends z.ZodObject> {
  readonly name: string;
  readonly version: number;
  readonly description: string;
  readonly schema: S;
  readonly eventIdField: FieldName<S>;
  readonly eventTimeField: FieldName<S>;
  readonly partitionKeyField: FieldName<S>;
  readonly classification: { readonly [K in FieldName<S>]-?: Classification };
  /** @default [] */
  readonly previousVersions?: readonly PreviousVersion[];
  /** @default 'BACKWARD' */
  readonly compatibility?: CompatibilityMode;
  /** @default [] */
  readonly rules?: readonly QualityRule<S>[];
  /** @default 5 minutes */
  readonly maxFutureSkewMs?: number;
}

export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
}

/** Column type of one property of the contract's JSON Schema (zod 4's own JSON Schema export). */
function fieldTypeOf(contract: string, field: string, property: unknown): FieldType {
  const p = property as { type?: string; format?: string; anyOf?: unknown[] } | undefined;
  if (p?.type === 'string') return p.format === 'date-time' ? 'timestamp' : 'string';
  if (p?.type === 'integer') return 'int64';
  if (p?.type === 'number') return 'float64';
  if (p?.type === 'boolean') return 'boolean';
  throw new DefinitionError(`contract ${contract}: field "${field}" has no storable scalar type`);
}

export function defineContract<S extends z.ZodObject>(input: ContractInput<S>): EventContract<S> {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(input.name)) {
    throw new DefinitionError(`contract name "${input.name}" must match ^[a-z][a-z0-9_]{0,62}$`);
  }
  if (!Number.isInteger(input.version) || input.version < 1) {
    throw new DefinitionError(`contract ${input.name}: version must be a positive integer`);
  }
  const json = z.toJSONSchema(input.schema, { io: 'input' }) as { properties?: Record<string, unknown> };
  const fields = Object.keys(input.schema.shape) as FieldName<S>[];
  const fieldTypes = {} as Record<FieldName<S>, FieldType>;
  for (const field of fields) {
    if (!(field in input.classification)) {
      throw new DefinitionError(`contract ${input.name}: field "${field}" has no classification`);
    }
    fieldTypes[field] = fieldTypeOf(input.name, field, json.properties?.[field]);
  }
  if (fieldTypes[input.partitionKeyField] !== 'string') {
    throw new DefinitionError(
      `contract ${input.name}: partitionKeyField "${input.partitionKeyField}" must be a string field`,
    );
  }
  if (fieldTypes[input.eventTimeField] !== 'timestamp') {
    throw new DefinitionError(
      `contract ${input.name}: eventTimeField "${input.eventTimeField}" must be an ISO date-time`,
    );
  }
  const previousVersions = input.previousVersions ?? [];
  previousVersions.forEach((p, i) => {
    const next = previousVersions[i + 1]?.version ?? input.version;
    if (!Number.isInteger(p.version) || p.version < 1 || p.version >= next) {
      throw new DefinitionError(
        `contract ${input.name}: previous versions must be ascending and below ${input.version}`,
      );
    }
  });
  if ((input.maxFutureSkewMs ?? 0) > 15 * 60_000) {
    throw new DefinitionError(`contract ${input.name}: maxFutureSkewMs may be at most 15 minutes`);
  }
  const ruleNames = new Set<string>();
  for (const rule of input.rules ?? []) {
    if (ruleNames.has(rule.name))
      throw new DefinitionError(`contract ${input.name}: rule "${rule.name}" is declared twice`);
    ruleNames.add(rule.name);
  }
  return {
    ...input,
    fieldTypes,
    previousVersions,
    compatibility: input.compatibility ?? 'BACKWARD',
    rules: input.rules ?? [],
    maxFutureSkewMs: input.maxFutureSkewMs ?? 5 * 60_000,
  };
}

/** Every version's schema, oldest first, the current one last. */
export const contractVersions = (c: EventContract): { version: number; schema: z.ZodObject }[] => [
  ...c.previousVersions.map((p) => ({ version: p.version, schema: p.schema })),
  { version: c.version, schema: c.schema },
];

/** An event of an earlier version, brought to the current shape through each version's upgrade. */
export function upgradeEvent(
  c: EventContract,
  version: number,
  event: Record<string, unknown>,
): Record<string, unknown> {
  let current = event;
  for (const p of c.previousVersions) if (p.version >= version && p.upgrade) current = p.upgrade(current);
  return current;
}
