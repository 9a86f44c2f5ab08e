import { z } from 'zod';

/** How sensitive a field is. Drives masking in the lookup API and tokenization at ingestion. */
export const classifications = ['public', 'confidential', 'pii'] as const;
export type Classification = (typeof classifications)[number];

/** Column types a contract field can carry into the stores (derived from the zod schema). */
export type FieldType = 'string' | 'int64' | 'float64' | 'boolean' | 'timestamp';

type FieldName<S extends z.ZodObject> = Extract<keyof z.infer<S>, string>;

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
  return { ...input, fieldTypes };
}
