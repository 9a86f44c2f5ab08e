/**
 * Cells of untyped or differently typed files -> the JSON types a contract's schema expects, by the
 * contract's own field types. Only unambiguous conversions are made; anything else is passed on
 * as it is, so the contract check rejects it with a reason naming the field.
 */
import type { EventContract, FieldType } from '../../schemas/contract.js';

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function fromText(type: FieldType | undefined, text: string): unknown {
  switch (type) {
    case 'int64': {
      // A decimal becomes a number too, so the contract's reason says "expected int".
      const n = Number(text);
      if (INTEGER.test(text)) return Number.isSafeInteger(n) ? n : text;
      return NUMBER.test(text) ? n : text;
    }
    case 'float64':
      return NUMBER.test(text) ? Number(text) : text;
    case 'boolean':
      if (/^true$/i.test(text)) return true;
      if (/^false$/i.test(text)) return false;
      return text;
    default:
      // Strings stay strings; timestamps stay ISO-8601 text, which the schema checks.
      return text;
  }
}

/** A CSV row (header -> cell): an empty cell is an absent field. */
export function eventFromCsv(
  contract: EventContract,
  header: readonly string[],
  cells: readonly string[],
): Record<string, unknown> {
  const types = contract.fieldTypes as Readonly<Record<string, FieldType>>;
  const event: Record<string, unknown> = {};
  header.forEach((name, i) => {
    const cell = cells[i] ?? '';
    if (cell !== '') event[name] = fromText(types[name], cell);
  });
  return event;
}

/** A Parquet row as hyparquet reads it: INT64 as bigint, timestamps as Date, null for absent. */
export function eventFromParquet(row: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) {
    if (value === null || value === undefined) continue;
    if (typeof value === 'bigint') event[name] = Number.isSafeInteger(Number(value)) ? Number(value) : value;
    else if (value instanceof Date) event[name] = Number.isNaN(value.getTime()) ? value : value.toISOString();
    else event[name] = value;
  }
  return event;
}

/** A value as JSON can hold it (bigint as text), for the rejects file. */
export const jsonSafe = (_key: string, value: unknown): unknown =>
  typeof value === 'bigint' ? value.toString() : value;
