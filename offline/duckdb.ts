/**
 * A DuckDB session for the offline jobs: in memory, UTC, with DuckDB's own Parquet reader and
 * writer over local files (no httpfs here: objects are fetched from S3 to a directory first).
 */
import { availableParallelism } from 'node:os';
import { type DuckDBConnection, DuckDBInstance, type JS } from '@duckdb/node-api';
import { str } from './training/sql-text.js';

export interface DuckDbOptions {
  /** Worker threads. @default the machine's parallelism */
  readonly threads?: number;
  /** e.g. '2GB'; DuckDB spills to a temp directory beyond it. @default DuckDB's (80% of RAM) */
  readonly memoryLimit?: string;
}

export class DuckDbSession {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async open(options: DuckDbOptions = {}): Promise<DuckDbSession> {
    const instance = await DuckDBInstance.create(':memory:', {
      threads: String(options.threads ?? availableParallelism()),
      ...(options.memoryLimit ? { memory_limit: options.memoryLimit } : {}),
    });
    const connection = await instance.connect();
    const session = new DuckDbSession(instance, connection);
    // Timestamps without a zone are UTC everywhere in the offline store; conversions must not shift them.
    await session.run(`SET TimeZone = 'UTC'`);
    return session;
  }

  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  /** The rows of a query, with JavaScript values (BIGINT as bigint, TIMESTAMP as Date). */
  async rows(sql: string): Promise<Record<string, JS>[]> {
    return (await this.connection.runAndReadAll(sql)).getRowObjectsJS();
  }

  /** Column names and DuckDB types of a query's result, without running it over the data. */
  async describe(sql: string): Promise<{ name: string; type: string }[]> {
    const rows = await this.rows(`DESCRIBE ${sql}`);
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  }

  /** Writes a query's result as one Parquet file (Snappy: every reader here, hyparquet included, reads it). */
  async copyToParquet(sql: string, path: string): Promise<void> {
    await this.run(`COPY (${sql}) TO ${str(path)} (FORMAT PARQUET, COMPRESSION SNAPPY)`);
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/**
 * `read_parquet([...])` over local files, columns matched by name across files (schema evolution).
 * Hive partitions in the paths (`group=`, `dt=`) become columns only when asked: a rewritten object
 * must keep exactly its own columns.
 */
export const readParquetSql = (paths: readonly string[], options: { hive?: boolean } = {}): string =>
  `read_parquet([${paths.map(str).join(', ')}], union_by_name = true, ` +
  (options.hive ? 'hive_partitioning = true, hive_types_autocast = false)' : 'hive_partitioning = false)');
