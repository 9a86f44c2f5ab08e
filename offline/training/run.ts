/**
 * A training set on this machine: label file -> the offline partitions it needs, fetched from the
 * object store to a temporary directory -> one DuckDB query -> a Parquet file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contracts, type FeatureGroup } from '../../schemas/index.js';
import { type DuckDbOptions, DuckDbSession } from '../duckdb.js';
import { datasetPrefix, eventsDataset, historyDataset } from '../layout.js';
import { download, listPartitions } from '../storage/fetch.js';
import type { ObjectStore } from '../storage/object-store.js';
import {
  eventsView,
  historyView,
  LABELS_TABLE,
  loadLabelFile,
  prepareLabels,
  registerEvents,
  registerHistory,
} from './local-sources.js';
import { readRanges, resolveTrainingSet, type TrainingSetRequest, type TrainingSetSpec } from './spec.js';
import { ident } from './sql-text.js';
import { type SqlSources, trainingSetSql } from './training-set-sql.js';

export interface TrainingSetOptions {
  readonly labelsPath: string;
  readonly request: TrainingSetRequest;
  readonly outPath: string;
  readonly store: ObjectStore;
  readonly duckdb?: DuckDbOptions;
  /** Where fetched objects go (removed afterwards). @default a new directory under the OS temp dir */
  readonly workDir?: string;
  readonly log?: (message: string) => void;
}

export interface TrainingSetSummary {
  readonly rows: number;
  readonly out: string;
  readonly windows: TrainingSetSpec['windows'];
  /** Per feature: how many label rows got a value. */
  readonly features: { readonly ref: string; readonly column: string; readonly nonNull: number }[];
  readonly objectsRead: number;
  readonly bytesRead: number;
}

/** Local Parquet files per dataset, as the query reads them. */
export interface LocalFiles {
  readonly history: ReadonlyMap<FeatureGroup, readonly string[]>;
  readonly events: ReadonlyMap<string, readonly string[]>;
}

/** The local relations, over the files registered as views. */
export const localSources: SqlSources = {
  labels: LABELS_TABLE,
  history: (group) => ident(historyView(group)),
  events: (contract) => ident(eventsView(contract)),
};

/** Registers the files and writes the joined rows to `outPath` (labels already prepared in the session). */
export async function runLocalQuery(
  session: DuckDbSession,
  spec: TrainingSetSpec,
  files: LocalFiles,
  outPath: string,
): Promise<void> {
  for (const s of spec.groups) await registerHistory(session, s.group, files.history.get(s.group) ?? []);
  for (const [name, paths] of files.events) {
    const contract = contracts.get(name);
    if (contract) await registerEvents(session, contract, paths);
  }
  await session.copyToParquet(trainingSetSql(spec, 'duckdb', localSources), outPath);
}

export async function buildTrainingSet(options: TrainingSetOptions): Promise<TrainingSetSummary> {
  const log = options.log ?? (() => {});
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'fp-training-')));
  const session = await DuckDbSession.open(options.duckdb);
  try {
    const labelColumns = await loadLabelFile(session, options.labelsPath);
    const spec = resolveTrainingSet(options.request, labelColumns);
    const span = await prepareLabels(session, spec.timeColumn);
    const history = new Map<FeatureGroup, string[]>();
    const events = new Map<string, string[]>();
    let objectsRead = 0;
    let bytesRead = 0;
    if ('from' in span) {
      const ranges = readRanges(spec, span);
      const fetch = async (prefix: string, range: { from: number; to: number }) => {
        const objects = await listPartitions(options.store, prefix, range);
        const got = await download(options.store, objects, workDir);
        objectsRead += objects.length;
        bytesRead += got.bytes;
        return got.files;
      };
      for (const [group, range] of ranges.history)
        history.set(group, await fetch(datasetPrefix(historyDataset(group)), range));
      for (const [name, range] of ranges.events) {
        const contract = contracts.get(name);
        if (contract) events.set(name, await fetch(datasetPrefix(eventsDataset(contract)), range));
      }
      log(`fetched ${objectsRead} objects (${bytesRead} bytes) from ${options.store.name}`);
    }
    await runLocalQuery(session, spec, { history, events }, options.outPath);
    const counts = spec.features.map((f) => `count(${ident(f.column)}) AS ${ident(f.column)}`);
    const [stats] = await session.rows(
      `SELECT count(*) AS __rows${counts.map((c) => `, ${c}`).join('')} FROM read_parquet('${options.outPath.replaceAll("'", "''")}')`,
    );
    return {
      rows: Number(stats?.__rows ?? 0),
      out: options.outPath,
      windows: spec.windows,
      features: spec.features.map((f) => ({
        ref: f.ref,
        column: f.column,
        nonNull: Number(stats?.[f.column] ?? 0),
      })),
      objectsRead,
      bytesRead,
    };
  } finally {
    session.close();
    if (!options.workDir) await rm(workDir, { recursive: true, force: true });
  }
}
