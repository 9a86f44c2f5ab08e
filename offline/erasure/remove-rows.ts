/**
 * Rewrites a dataset's objects without the rows a predicate matches, one date partition at a time
 * (fetched to a local directory, filtered by DuckDB, written back to the same key; an object left
 * empty is deleted), then deletes the noncurrent versions of every object it changed, so the
 * removed rows do not survive in a versioned bucket.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDbSession } from '../duckdb.js';
import { readParquetSql } from '../duckdb.js';
import { parsePartitionKey } from '../layout.js';
import { download } from '../storage/fetch.js';
import type { ObjectStore, StoredObject } from '../storage/object-store.js';
import { str } from '../training/sql-text.js';

export interface RemovedRows {
  readonly objectsScanned: number;
  readonly objectsRewritten: number;
  readonly objectsDeleted: number;
  readonly rowsRemoved: number;
  /** Noncurrent versions deleted, or 'unsupported' where the store keeps none. */
  readonly versionsPurged: number | 'unsupported';
  /** Event ids of the removed rows, with their partition date and event time (epoch ms). */
  readonly events: readonly { readonly eventId: string; readonly dt: string; readonly eventTime: number }[];
}

/** The objects of a dataset grouped by their `dt` partition, optionally only the given dates. */
export async function partitionsOf(
  store: ObjectStore,
  prefix: string,
  only?: ReadonlySet<string>,
): Promise<Map<string, StoredObject[]>> {
  const byDt = new Map<string, StoredObject[]>();
  for (const o of await store.list(prefix)) {
    const p = parsePartitionKey(o.key);
    if (!p || !o.key.endsWith('.parquet') || (only && !only.has(p.dt))) continue;
    byDt.set(p.dt, [...(byDt.get(p.dt) ?? []), o]);
  }
  return byDt;
}

export async function removeRows(input: {
  readonly store: ObjectStore;
  readonly session: DuckDbSession;
  /** Dataset prefix, e.g. `features/group=customer/`. */
  readonly prefix: string;
  /** A DuckDB boolean over the dataset's columns; rows where it is true are removed. */
  readonly predicate: string;
  readonly workDir: string;
  /** Only these partitions (dates), when known. */
  readonly dates?: ReadonlySet<string>;
  /** Find the rows (counts and event ids) without changing anything. */
  readonly dryRun?: boolean;
}): Promise<RemovedRows> {
  const { store, session, predicate } = input;
  let objectsScanned = 0;
  let objectsRewritten = 0;
  let objectsDeleted = 0;
  let rowsRemoved = 0;
  let purged = 0;
  let versioned = true;
  const events: { eventId: string; dt: string; eventTime: number }[] = [];
  const changed: string[] = [];
  for (const [dt, objects] of await partitionsOf(store, input.prefix, input.dates)) {
    const dir = await mkdtemp(join(input.workDir, 'part-'));
    try {
      const { files } = await download(store, objects, dir);
      objectsScanned += files.length;
      const hits = await session.rows(
        `SELECT filename, count(*) AS n FROM read_parquet([${files.map(str).join(', ')}], union_by_name = true, ` +
          `hive_partitioning = false, filename = true) WHERE ${predicate} GROUP BY filename`,
      );
      for (const hit of hits) {
        const file = String(hit.filename);
        const object = objects[files.indexOf(file)] as StoredObject;
        const n = Number(hit.n);
        for (const r of await session.rows(
          `SELECT DISTINCT event_id, epoch_ms(event_time) AS t FROM ${readParquetSql([file])} WHERE ${predicate}`,
        ))
          events.push({ eventId: String(r.event_id), dt, eventTime: Number(r.t) });
        rowsRemoved += n;
        if (input.dryRun) continue;
        const [total] = await session.rows(`SELECT count(*) AS n FROM ${readParquetSql([file])}`);
        if (Number(total?.n) === n) {
          await store.delete([object.key]);
          objectsDeleted++;
        } else {
          const out = `${file}.rewritten.parquet`;
          await session.copyToParquet(
            `SELECT * FROM ${readParquetSql([file])} WHERE NOT coalesce(${predicate}, false)`,
            out,
          );
          await store.put(object.key, await readFile(out), 'application/vnd.apache.parquet', {
            encryptLike: [object.key],
          });
          objectsRewritten++;
        }
        changed.push(object.key);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  for (const key of changed) {
    const n = await store.purgeNoncurrentVersions(key);
    if (n === 'unsupported') versioned = false;
    else purged += n;
  }
  const versionsPurged = versioned ? purged : 'unsupported';
  return { objectsScanned, objectsRewritten, objectsDeleted, rowsRemoved, versionsPurged, events };
}
