/**
 * SQL text that DuckDB and Athena (Trino) read the same way: quoted identifiers, string literals,
 * interval literals, and the floor of a timestamp to an epoch-aligned tile.
 */
import { TrainingSetRequestError } from '../errors.js';

export type Dialect = 'duckdb' | 'athena';

/** A double-quoted identifier (both dialects). */
export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** A single-quoted string literal (both dialects). */
export const str = (value: string): string => `'${value.replaceAll("'", "''")}'`;

const UNITS: readonly [number, string][] = [
  [86_400_000, 'DAY'],
  [3_600_000, 'HOUR'],
  [60_000, 'MINUTE'],
  [1_000, 'SECOND'],
];

/** `INTERVAL 'n' UNIT` in the largest unit that divides `ms` (both dialects take single-field intervals). */
export function interval(ms: number): string {
  if (!Number.isInteger(ms) || ms <= 0)
    throw new TrainingSetRequestError(`interval of ${ms} ms is not positive`);
  for (const [size, unit] of UNITS) if (ms % size === 0) return `INTERVAL '${ms / size}' ${unit}`;
  return `INTERVAL '${(ms / 1000).toFixed(3)}' SECOND`;
}

/**
 * The start of the epoch-aligned tile of `tileMs` holding timestamp `x` (tiles start at multiples
 * of their size since the epoch, so they are aligned to UTC minutes, hours and days).
 */
export function tileFloor(x: string, tileMs: number): string {
  if (tileMs === 60_000) return `date_trunc('minute', ${x})`;
  if (tileMs === 3_600_000) return `date_trunc('hour', ${x})`;
  if (tileMs === 86_400_000) return `date_trunc('day', ${x})`;
  if (tileMs % 60_000 === 0 && 3_600_000 % tileMs === 0) {
    const n = tileMs / 60_000;
    return `(date_trunc('hour', ${x}) + INTERVAL '1' MINUTE * (minute(${x}) - minute(${x}) % ${n}))`;
  }
  if (tileMs % 3_600_000 === 0 && 86_400_000 % tileMs === 0) {
    const n = tileMs / 3_600_000;
    return `(date_trunc('day', ${x}) + INTERVAL '1' HOUR * (hour(${x}) - hour(${x}) % ${n}))`;
  }
  throw new TrainingSetRequestError(`tiles of ${tileMs} ms do not divide an hour or a day`);
}
