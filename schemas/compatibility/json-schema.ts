/**
 * Every version of a contract as the JSON Schema the registry stores: zod 4's own export
 * (`z.toJSONSchema`, draft-07, the input side so optional-with-default fields stay optional),
 * checked to be a closed object, and serialised canonically (keys sorted, `required` sorted,
 * two-space indent, final newline) so the committed snapshot and the definition sent to Glue are
 * the same bytes and a review diff shows only real changes.
 */
import { z } from 'zod';
import { contractVersions, type EventContract } from '../contract.js';
import { SchemaExportError } from './errors.js';

/** A JSON Schema (draft-07) node: an object, or the boolean schemas `true` / `false`. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/** What our contracts produce: a closed object of scalar properties. */
export interface ObjectJsonSchema {
  readonly $schema?: string;
  readonly type: 'object';
  readonly properties: { readonly [field: string]: JsonSchema };
  readonly required?: readonly string[];
  readonly additionalProperties?: JsonSchema;
  readonly [keyword: string]: unknown;
}

export interface VersionSchema {
  readonly version: number;
  readonly schema: ObjectJsonSchema;
  /** The canonical text: the snapshot file's content and the definition registered in Glue. */
  readonly text: string;
}

export const JSON_SCHEMA_DRAFT_07 = 'http://json-schema.org/draft-07/schema#';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys sorted at every level; `required` (a set) sorted too. Arrays otherwise keep their order. */
export function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalize);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = value[key];
    out[key] =
      key === 'required' && Array.isArray(v) && v.every((x) => typeof x === 'string')
        ? [...v].sort()
        : canonicalize(v);
  }
  return out;
}

export const canonicalJson = (value: unknown): string => `${JSON.stringify(canonicalize(value), null, 2)}\n`;

/** Throws unless `json` is an object schema whose additional properties are forbidden. */
export function assertClosedObject(contract: string, version: number, json: unknown): ObjectJsonSchema {
  if (!isPlainObject(json) || json.type !== 'object' || !isPlainObject(json.properties)) {
    throw new SchemaExportError(
      `contract ${contract} v${version}: JSON Schema is not an object schema`,
      contract,
    );
  }
  if (json.additionalProperties !== false) {
    throw new SchemaExportError(
      `contract ${contract} v${version}: JSON Schema is open (additionalProperties is not false); declare it with z.strictObject so adding an optional field stays backward compatible`,
      contract,
    );
  }
  return json as ObjectJsonSchema;
}

/** One zod object as the registry's JSON Schema. */
export function toRegistrySchema(contract: string, version: number, schema: z.ZodObject): VersionSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-07', io: 'input' });
  const closed = assertClosedObject(contract, version, canonicalize(json));
  return { version, schema: closed, text: canonicalJson(closed) };
}

/** Every version of a contract, oldest first, as registry JSON Schemas. */
export const contractJsonSchemas = (contract: EventContract): VersionSchema[] =>
  contractVersions(contract).map((v) => toRegistrySchema(contract.name, v.version, v.schema));
