/** Copies the objects of a dataset's date partitions from the object store to a local directory. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mapWithConcurrency } from '../../lambdas/adapters/concurrency.js';
import { utcDatesBetween } from '../layout.js';
import type { ObjectStore, StoredObject } from './object-store.js';

export interface Fetched {
  /** Local paths, in key order. */
  readonly files: string[];
  readonly bytes: number;
}

/** The Parquet objects of `prefix` whose `dt` lies between the UTC dates of `from` and `to`. */
export async function listPartitions(
  store: ObjectStore,
  prefix: string,
  range: { readonly from: number; readonly to: number },
): Promise<StoredObject[]> {
  const days = utcDatesBetween(range.from, range.to);
  const listed = await mapWithConcurrency(days, 8, (dt) => store.list(`${prefix}dt=${dt}/`));
  return listed.flat().filter((o) => o.key.endsWith('.parquet'));
}

/** Downloads objects under `dir`, keeping their keys as relative paths. */
export async function download(
  store: ObjectStore,
  objects: readonly StoredObject[],
  dir: string,
): Promise<Fetched> {
  const files = await mapWithConcurrency(objects, 8, async (o) => {
    const path = join(dir, o.key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, await store.get(o.key));
    return path;
  });
  return { files, bytes: objects.reduce((n, o) => n + o.size, 0) };
}
