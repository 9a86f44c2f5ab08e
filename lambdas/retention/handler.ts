/**
 * Offline retention, run daily by a schedule: every partition (`dt=<yyyy-mm-dd>/`) of the feature
 * history and the raw events whose date is more than `OFFLINE_RETENTION_DAYS` before today (UTC) is
 * deleted, object by object. By the partition's date, which is the events' date, so the period holds
 * whatever rewrote an object since (erasure and compaction write new objects, and S3's lifecycle,
 * kept as a backstop, counts from an object's creation). Deleting leaves delete markers; the earlier
 * versions go with the prefix's noncurrent versions. Erasure records (`audit/erasure/`) are not
 * touched.
 *
 * The work is what is due, not what is kept: each dataset's partitions are listed by prefix (a few
 * thousand over years), oldest first, up to the first one that is not due; a due partition's objects
 * are deleted page by page as they are listed. A run that nears its time limit stops after the page
 * it is on and the next day's run goes on from there: every step is idempotent.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { OFFLINE_DATASET_ROOTS } from '../../lib/platform-spec.js';
import { allDatasets, datasetPrefix } from '../../offline/layout.js';
import { utcDate } from '../core/latest-values.js';
import { readConfig, retentionConfigSchema, s3ClientConfig } from '../shared/config.js';

const logger = new Logger({ serviceName: 'offline-retention' });

export interface RetentionReport {
  /** Partitions dated before this day were deleted. */
  readonly before: string;
  /** Partitions emptied, in the order done. */
  readonly partitions: readonly string[];
  readonly objectsDeleted: number;
  /** False when the run stopped for its time limit: the next run goes on. */
  readonly complete: boolean;
}

/** The prefixes one level below `prefix` (a `/`-delimited listing), in key order, page by page. */
async function* childPrefixes(s3: S3Client, bucket: string, prefix: string): AsyncGenerator<string> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }),
    );
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix) yield p.Prefix;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/**
 * The datasets to expire: those of the definitions and those found in the bucket (a group or
 * contract no definition names any more keeps its partitions there until they are due).
 */
async function datasetsIn(s3: S3Client, bucket: string): Promise<string[]> {
  const found = new Set(allDatasets().map(datasetPrefix));
  for (const root of OFFLINE_DATASET_ROOTS)
    for await (const p of childPrefixes(s3, bucket, root)) found.add(p);
  return [...found].sort();
}

/** Deletes a partition's objects page by page; false if it stopped for the deadline. */
async function emptyPartition(
  s3: S3Client,
  bucket: string,
  partition: string,
  onDeleted: (n: number) => void,
  timeLeft: () => boolean,
): Promise<boolean> {
  let token: string | undefined;
  do {
    if (!timeLeft()) return false;
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: partition, ContinuationToken: token }),
    );
    const objects = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (objects.length > 0) {
      const out = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }),
      );
      if (out.Errors?.length)
        throw new Error(
          `${out.Errors.length} of ${objects.length} deletes refused under ${partition} (${out.Errors[0]?.Code})`,
        );
      onDeleted(objects.length);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return true;
}

/**
 * Deletes the partitions of `datasets` dated before `before` (yyyy-mm-dd). `timeLeft` is asked
 * before each page: when it says no, the run stops there, incomplete.
 */
export async function expirePartitions(
  s3: S3Client,
  bucket: string,
  before: string,
  options: { readonly datasets?: readonly string[]; readonly timeLeft?: () => boolean } = {},
): Promise<RetentionReport> {
  const timeLeft = options.timeLeft ?? (() => true);
  const partitions: string[] = [];
  let objectsDeleted = 0;
  for (const dataset of options.datasets ?? (await datasetsIn(s3, bucket))) {
    for await (const partition of childPrefixes(s3, bucket, dataset)) {
      const dt = /^dt=(\d{4}-\d{2}-\d{2})\/$/.exec(partition.slice(dataset.length))?.[1];
      if (!dt) continue;
      if (dt >= before) break; // in date order: nothing later is due
      const done = await emptyPartition(s3, bucket, partition, (n) => (objectsDeleted += n), timeLeft);
      if (!done) return { before, partitions, objectsDeleted, complete: false };
      partitions.push(partition);
    }
  }
  return { before, partitions, objectsDeleted, complete: true };
}

/** The first day kept: today (UTC) less the retention. */
export const retentionCutoff = (now: number, days: number): string => utcDate(now - days * 86_400_000);

/** Stops a minute before the function's time limit. */
const SAFETY_MS = 60_000;

export function createHandler(makeClient: () => S3Client, now: () => number = Date.now) {
  let s3: S3Client | undefined;
  return async (
    _event?: unknown,
    context?: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<RetentionReport> => {
    const config = readConfig(retentionConfigSchema, process.env);
    s3 ??= makeClient();
    const report = await expirePartitions(
      s3,
      config.OFFLINE_BUCKET,
      retentionCutoff(now(), config.OFFLINE_RETENTION_DAYS),
      { timeLeft: () => (context ? context.getRemainingTimeInMillis() > SAFETY_MS : true) },
    );
    const summary = {
      before: report.before,
      partitions: report.partitions.length,
      objectsDeleted: report.objectsDeleted,
    };
    if (report.complete) logger.info('offline partitions past retention deleted', summary);
    else logger.warn('offline retention stopped for its time limit; the next run goes on', summary);
    return report;
  };
}

/** The deployed handler (a daily schedule invokes it). */
export const handler = createHandler(() => new S3Client(s3ClientConfig(false)));
