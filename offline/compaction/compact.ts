/**
 * Keeps the offline store's objects near a healthy size. The processor writes one object per
 * dataset, date and batch (tens of KB at typical batch sizes): a day of a busy stream is thousands
 * of objects, and Athena pays per object opened. Compaction merges a partition's small objects into
 * objects of about `targetBytes` (128 MiB by default: big enough that per-object cost vanishes,
 * small enough to split across Athena workers), one row per event id, sorted by entity and event
 * time (tight row-group statistics for entity lookups).
 *
 * Safe to run at any time and to run again:
 * - only objects below half the target are merged, and only in partitions at least `minAgeDays`
 *   old (past the allowed lateness and the stream's redelivery window; younger ones still grow);
 * - outputs are named after the exact set of inputs (`compacted-<hash>-<n>.parquet`): a run that
 *   stopped after writing them and before deleting the inputs is finished by the next run, which
 *   finds its outputs and only deletes the inputs;
 * - an object written while it runs is not an input and is left alone;
 * - a redelivered batch that rewrites an old object after compaction duplicates rows across
 *   objects, which readers dedupe by event id, and the next run merges away.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbSession, readParquetSql } from '../duckdb.js';
import { partitionsOf } from '../erasure/remove-rows.js';
import { eventIdentitySql } from '../event-identity.js';
import {
  datasetColumns,
  datasetName,
  datasetPrefix,
  type OfflineDataset,
  partitionPrefix,
} from '../layout.js';
import { download } from '../storage/fetch.js';
import type { ObjectStore, StoredObject } from '../storage/object-store.js';
import { ident, str } from '../training/sql-text.js';

export const TARGET_OBJECT_BYTES = 128 * 1024 * 1024;
const DAY_MS = 86_400_000;

export interface CompactionOptions {
  /** @default 128 MiB */
  readonly targetBytes?: number;
  /** Partitions younger than this many days (by `dt`) are left alone. @default 2 */
  readonly minAgeDays?: number;
  /** Only these dates. */
  readonly dates?: ReadonlySet<string>;
  /** Rows per Parquet row group (DuckDB checks the file size between row groups). @default DuckDB's, 122,880 */
  readonly rowGroupRows?: number;
  readonly now?: () => number;
}

export interface PartitionCompaction {
  readonly dataset: string;
  readonly dt: string;
  readonly inputObjects: number;
  readonly inputBytes: number;
  readonly outputObjects: number;
  readonly outputBytes: number;
  readonly rowsIn: number;
  readonly rowsOut: number;
  /** `finished`: an earlier run's outputs were found, only the inputs were deleted. */
  readonly mode: 'merged' | 'finished';
}

const isCompacted = (key: string) => /\/compacted-[0-9a-f]{16}-\d+\.parquet$/.test(key);
const inputsHash = (keys: readonly string[]) =>
  createHash('sha256')
    .update([...keys].sort().join('\n'))
    .digest('hex')
    .slice(0, 16);

/** Sort order of a compacted object: by entity (history) and event time. */
const orderBy = (d: OfflineDataset) =>
  d.kind === 'features' ? `${ident(d.group.entity.name)}, event_time, event_id` : 'event_time, event_id';

export async function compactDataset(
  store: ObjectStore,
  dataset: OfflineDataset,
  options: CompactionOptions = {},
): Promise<PartitionCompaction[]> {
  const target = options.targetBytes ?? TARGET_OBJECT_BYTES;
  const newest = (options.now ?? Date.now)() - (options.minAgeDays ?? 2) * DAY_MS;
  const out: PartitionCompaction[] = [];
  const partitions = await partitionsOf(store, datasetPrefix(dataset), options.dates);
  const session = await DuckDbSession.open({ threads: 2, memoryLimit: '1GB' });
  const workDir = await mkdtemp(join(tmpdir(), 'fp-compact-'));
  try {
    for (const [dt, objects] of [...partitions].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (Date.parse(`${dt}T00:00:00Z`) + DAY_MS > newest) continue;
      const inputs = objects.filter((o) => o.size < target / 2);
      if (inputs.length < 2) continue;
      out.push(
        await compactPartition(
          store,
          session,
          dataset,
          dt,
          inputs,
          objects,
          { ...options, targetBytes: target },
          workDir,
        ),
      );
    }
  } finally {
    session.close();
    await rm(workDir, { recursive: true, force: true });
  }
  return out;
}

async function compactPartition(
  store: ObjectStore,
  session: DuckDbSession,
  dataset: OfflineDataset,
  dt: string,
  inputs: readonly StoredObject[],
  all: readonly StoredObject[],
  options: CompactionOptions & { readonly targetBytes: number },
  workDir: string,
): Promise<PartitionCompaction> {
  const target = options.targetBytes;
  const rowGroups = options.rowGroupRows ? `, ROW_GROUP_SIZE ${options.rowGroupRows}` : '';
  // Named after the processor's objects it merges (earlier outputs it re-merges do not count):
  // a run that stopped before deleting its inputs left outputs under exactly this name.
  const fresh = inputs.filter((o) => !isCompacted(o.key));
  const hash = inputsHash((fresh.length ? fresh : inputs).map((o) => o.key));
  const prefix = `${partitionPrefix(dataset, dt)}compacted-${hash}-`;
  const inputBytes = inputs.reduce((n, o) => n + o.size, 0);
  const base = { dataset: datasetName(dataset), dt, inputObjects: inputs.length, inputBytes };
  const earlier = all.filter((o) => o.key.startsWith(prefix));
  if (earlier.length > 0) {
    await store.delete(fresh.map((o) => o.key));
    const outputBytes = earlier.reduce((n, o) => n + o.size, 0);
    return { ...base, outputObjects: earlier.length, outputBytes, rowsIn: 0, rowsOut: 0, mode: 'finished' };
  }
  const dir = await mkdtemp(join(workDir, `${dt}-`));
  try {
    const { files } = await download(store, inputs, join(dir, 'in'));
    const [counted] = await session.rows(`SELECT count(*) AS n FROM ${readParquetSql(files)}`);
    // The declared columns first (older objects lack newer ones: null), then any others the files have.
    const declared = datasetColumns(dataset).map((c) => c.name);
    const present = (await session.describe(`SELECT * FROM ${readParquetSql(files)}`)).map((c) => c.name);
    const columns = [
      ...declared.filter((c) => present.includes(c)),
      ...present.filter((c) => !declared.includes(c)),
    ];
    const outDir = join(dir, 'out');
    await session.run(
      `COPY (SELECT ${columns.map(ident).join(', ')} FROM ${readParquetSql(files)} ` +
        `QUALIFY row_number() OVER (PARTITION BY ${eventIdentitySql()} ORDER BY ingestion_time) = 1 ` +
        `ORDER BY ${orderBy(dataset)}) TO ${str(outDir)} ` +
        `(FORMAT PARQUET, COMPRESSION SNAPPY, FILE_SIZE_BYTES ${target}${rowGroups}, FILENAME_PATTERN 'part-{i}')`,
    );
    const parts = (await readdir(outDir)).filter((f) => f.endsWith('.parquet')).sort();
    let outputObjects = 0;
    let outputBytes = 0;
    let rowsOut = 0;
    for (const part of parts) {
      const path = join(outDir, part);
      const [c] = await session.rows(`SELECT count(*) AS n FROM ${readParquetSql([path])}`);
      if (Number(c?.n ?? 0) === 0) continue; // DuckDB may close a last, empty file
      const body = await readFile(path);
      await store.put(`${prefix}${outputObjects}.parquet`, body, 'application/vnd.apache.parquet', {
        encryptLike: inputs.map((o) => o.key),
      });
      outputObjects++;
      outputBytes += body.length;
      rowsOut += Number(c?.n);
    }
    await store.delete(inputs.map((o) => o.key));
    return { ...base, outputObjects, outputBytes, rowsIn: Number(counted?.n ?? 0), rowsOut, mode: 'merged' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How healthy a dataset's partitions are: objects, bytes and how many are small. */
export async function partitionHealth(
  store: ObjectStore,
  dataset: OfflineDataset,
  targetBytes = TARGET_OBJECT_BYTES,
) {
  const partitions = await partitionsOf(store, datasetPrefix(dataset));
  return [...partitions].map(([dt, objects]) => {
    const bytes = objects.reduce((n, o) => n + o.size, 0);
    return {
      dataset: datasetName(dataset),
      dt,
      objects: objects.length,
      bytes,
      meanObjectBytes: Math.round(bytes / objects.length),
      smallObjects: objects.filter((o) => o.size < targetBytes / 2 && !isCompacted(o.key)).length,
    };
  });
}
