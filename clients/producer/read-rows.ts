/**
 * A file of events -> rows with their line numbers, in file order: JSON Lines (`.jsonl`,
 * `.ndjson`), CSV with a header row (`.csv`, cells coerced by the contract's field types) or
 * Parquet (`.parquet`, through hyparquet). A row that cannot even be read as an event carries an
 * `error` and goes to the rejects like an invalid event.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import type { EventContract } from '../../schemas/contract.js';
import { eventFromCsv, eventFromParquet } from './coerce.js';
import { parseCsv } from './csv.js';
import { InputFileError } from './errors.js';

export interface InputRow {
  /** 1-based line of the file (JSON Lines, CSV) or 1-based row number (Parquet). */
  readonly line: number;
  /** The row as it is in the file, for the rejects file. */
  readonly original: unknown;
  /** The event to validate and send, unless the row could not be read as one. */
  readonly event?: Record<string, unknown>;
  readonly error?: string;
}

export type FileFormat = 'jsonl' | 'csv' | 'parquet';

const FORMATS: Readonly<Record<string, FileFormat>> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.parquet': 'parquet',
};

export function formatOf(file: string): FileFormat {
  const format = FORMATS[extname(file).toLowerCase()];
  if (!format) {
    throw new InputFileError(`${file}: unknown format; use ${Object.keys(FORMATS).join(', ')}`);
  }
  return format;
}

async function bytesOf(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new InputFileError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function jsonLines(text: string): InputRow[] {
  const rows: InputRow[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const source = i === 0 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    if (source.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch {
      rows.push({ line, original: source, error: 'not valid JSON' });
      return;
    }
    rows.push(
      isObject(value)
        ? { line, original: value, event: value }
        : { line, original: value, error: 'not a JSON object' },
    );
  });
  return rows;
}

function csvRows(file: string, text: string, contract: EventContract): InputRow[] {
  const records = parseCsv(text);
  const first = records.next();
  if (first.done) return [];
  const header = first.value.fields.map((h) => h.trim());
  if (first.value.error) throw new InputFileError(`${file}: header row: ${first.value.error}`);
  const duplicate = header.find((h, i) => header.indexOf(h) !== i);
  if (duplicate !== undefined) throw new InputFileError(`${file}: header names column "${duplicate}" twice`);
  if (header.some((h) => h === '')) throw new InputFileError(`${file}: header has an empty column name`);
  const rows: InputRow[] = [];
  for (const { line, fields, error } of records) {
    const original = Object.fromEntries(header.map((h, i) => [h, fields[i] ?? '']));
    if (error) rows.push({ line, original: fields, error: `not valid CSV: ${error}` });
    else if (fields.length !== header.length) {
      rows.push({
        line,
        original: fields,
        error: `has ${fields.length} fields, the header ${header.length}`,
      });
    } else rows.push({ line, original, event: eventFromCsv(contract, header, fields) });
  }
  return rows;
}

async function parquetRows(file: string, bytes: Buffer): Promise<InputRow[]> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let objects: Record<string, unknown>[];
  try {
    objects = await parquetReadObjects({ file: buffer });
  } catch (error) {
    throw new InputFileError(`${file}: not a readable Parquet file (${(error as Error).message})`);
  }
  return objects.map((row, i) => ({ line: i + 1, original: row, event: eventFromParquet(row) }));
}

export async function readRows(file: string, contract: EventContract): Promise<InputRow[]> {
  const format = formatOf(file);
  const bytes = await bytesOf(file);
  if (format === 'parquet') return parquetRows(file, bytes);
  const text = bytes.toString('utf8');
  return format === 'csv' ? csvRows(file, text, contract) : jsonLines(text);
}
