/**
 * The relations of a local (DuckDB) training-set query: the label file as a table with
 * `__label_row` and `__label_time`, and views over the Parquet files fetched from the offline
 * store, with every column the definitions declare (a column missing from older files, e.g. one a
 * later contract version added, reads as null).
 */
import { extname } from 'node:path';
import type { EventContract, FeatureGroup, OfflineColumn } from '../../schemas/index.js';
import { eventColumns, offlineColumns } from '../../schemas/index.js';
import { type DuckDbSession, readParquetSql } from '../duckdb.js';
import { TrainingSetRequestError } from '../errors.js';
import { ident, str } from './sql-text.js';

/**
 * DuckDB types of the offline columns. Timestamps stay as the Parquet files hold them (UTC,
 * `TIMESTAMP WITH TIME ZONE`): converting a million of them costs more than the join itself.
 */
export const DUCKDB_TYPES: Record<OfflineColumn['type'], string> = {
  string: 'VARCHAR',
  int64: 'BIGINT',
  int32: 'INTEGER',
  float64: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP WITH TIME ZONE',
};

const LABELS_IN = '__labels_in';
export const LABELS_TABLE = 'labels';

function labelReader(path: string): string {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return `read_csv(${str(path)}, header = true, auto_detect = true)`;
  if (ext === '.parquet') return `read_parquet(${str(path)})`;
  throw new TrainingSetRequestError(`labels must be a .csv or .parquet file, not "${path}"`);
}

/** Loads the label file into DuckDB (in file order) and returns its columns. */
export async function loadLabelFile(session: DuckDbSession, path: string): Promise<string[]> {
  await session.run(`CREATE OR REPLACE TABLE ${LABELS_IN} AS SELECT * FROM ${labelReader(path)}`);
  return (await session.describe(`SELECT * FROM ${LABELS_IN}`)).map((c) => c.name);
}

/**
 * The label table the query reads: the file's rows in file order (`__label_row`) and the label
 * time as an instant (`__label_time`; ISO strings with an offset are converted, strings and
 * timestamps without one are taken as UTC). Returns the label times' span (epoch ms).
 */
export async function prepareLabels(
  session: DuckDbSession,
  timeColumn: string,
): Promise<{ rows: number; from: number; to: number } | { rows: 0 }> {
  const t = ident(timeColumn);
  try {
    await session.run(
      `CREATE OR REPLACE TABLE ${LABELS_TABLE} AS SELECT *, rowid AS __label_row, ` +
        `CAST(${t} AS TIMESTAMPTZ) AS __label_time FROM ${LABELS_IN}`,
    );
  } catch (error) {
    throw new TrainingSetRequestError(
      `label column "${timeColumn}" is not a timestamp or an ISO-8601 date-time: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const [span] = await session.rows(
    `SELECT count(*) AS n, epoch_ms(min(__label_time)) AS lo, epoch_ms(max(__label_time)) AS hi FROM ${LABELS_TABLE}`,
  );
  const nulls = await session.rows(`SELECT count(*) AS n FROM ${LABELS_TABLE} WHERE __label_time IS NULL`);
  if (Number(nulls[0]?.n ?? 0) > 0)
    throw new TrainingSetRequestError(`${Number(nulls[0]?.n)} label rows have no ${timeColumn}`);
  const rows = Number(span?.n ?? 0);
  if (rows === 0) return { rows: 0 };
  return { rows, from: Number(span?.lo), to: Number(span?.hi) };
}

/** A view over Parquet files with exactly `columns`, cast only where a file's type differs. */
async function datasetView(
  session: DuckDbSession,
  name: string,
  files: readonly string[],
  columns: readonly OfflineColumn[],
): Promise<void> {
  const present = new Map(
    files.length
      ? (await session.describe(`SELECT * FROM ${readParquetSql(files)}`)).map((c) => [c.name, c.type])
      : [],
  );
  const select = columns.map((c) => {
    const type = DUCKDB_TYPES[c.type];
    const found = present.get(c.name);
    if (found === type) return ident(c.name);
    return `CAST(${found ? ident(c.name) : 'NULL'} AS ${type}) AS ${ident(c.name)}`;
  });
  const from = files.length ? ` FROM ${readParquetSql(files)}` : ' WHERE false';
  await session.run(`CREATE OR REPLACE VIEW ${ident(name)} AS SELECT ${select.join(', ')}${from}`);
}

export const historyView = (group: FeatureGroup): string => `history_${group.name}`;
export const eventsView = (contract: string): string => `events_${contract}`;

export const registerHistory = (session: DuckDbSession, group: FeatureGroup, files: readonly string[]) =>
  datasetView(session, historyView(group), files, offlineColumns(group));

export const registerEvents = (session: DuckDbSession, contract: EventContract, files: readonly string[]) =>
  datasetView(session, eventsView(contract.name), files, eventColumns(contract));
