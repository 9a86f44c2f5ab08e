/**
 * What a benchmark is: a name, a one-line description and a run that returns one JSON object (the
 * line printed on stdout) and the rows of the readable table (printed on stderr). Every figure is
 * measured against a baseline measured in the same run, and reported as a ratio.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface TableRow {
  readonly label: string;
  readonly value: string;
  readonly note?: string;
}

export interface BenchOutput {
  /** Printed as one JSON line: `{"bench": <name>, ...json}`. */
  readonly json: Record<string, JsonValue>;
  readonly table: readonly TableRow[];
}

export interface Bench {
  readonly name: string;
  readonly description: string;
  run(log: (message: string) => void): Promise<BenchOutput>;
}

export const fmt = (x: number, digits = 0): string =>
  Number.isFinite(x)
    ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : String(x);
