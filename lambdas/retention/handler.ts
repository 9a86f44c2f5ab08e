/**
 * Offline retention, run daily by a schedule: every partition (`dt=<yyyy-mm-dd>/`) of the feature
 * history and the raw events whose date is more than `OFFLINE_RETENTION_DAYS` before today (UTC) is
 * deleted, object by object. By the partition's date, which is the events' date, so the period holds
 * whatever rewrote an object since (erasure and compaction write new objects, and S3's lifecycle,
 * kept as a backstop, counts from an object's creation). Deleting leaves delete markers; the earlier
 * versions go with the bucket's noncurrent versions. Erasure records (`audit/erasure/`) are not
 * touched. Idempotent: a missed or repeated run deletes what is due then.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { OFFLINE_EVENTS_PREFIX, OFFLINE_FEATURES_PREFIX } from '../../lib/platform-spec.js';
import { utcDate } from '../core/latest-values.js';
import { readConfig, retentionConfigSchema, s3ClientConfig } from '../shared/config.js';

const logger = new Logger({ serviceName: 'offline-retention' });

export interface RetentionReport {
  /** Partitions dated before this day were deleted. */
  readonly before: string;
  readonly partitions: readonly string[];
  readonly objectsDeleted: number;
}

/** Every object key under `prefix` (all pages). */
async function keysUnder(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** `<dataset>/dt=<yyyy-mm-dd>/` and its date, for a key of a partition. */
const PARTITION = /^([^/]+\/[^/]+\/dt=(\d{4}-\d{2}-\d{2})\/)/;

/**
 * Deletes the objects of every dataset partition dated before `before` (yyyy-mm-dd), 1,000 per
 * request; throws if S3 refuses any. Lists the datasets' objects whole (a few per partition once
 * compacted) rather than by delimiter, so partitions of datasets no definition names any more go too.
 */
export async function expirePartitions(
  s3: S3Client,
  bucket: string,
  before: string,
): Promise<RetentionReport> {
  const partitions = new Set<string>();
  const due: string[] = [];
  for (const root of [OFFLINE_FEATURES_PREFIX, OFFLINE_EVENTS_PREFIX]) {
    for (const key of await keysUnder(s3, bucket, root)) {
      const m = PARTITION.exec(key);
      if (!m || (m[2] as string) >= before) continue;
      partitions.add(m[1] as string);
      due.push(key);
    }
  }
  for (let i = 0; i < due.length; i += 1000) {
    const objects = due.slice(i, i + 1000).map((Key) => ({ Key }));
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }),
    );
    if (out.Errors?.length)
      throw new Error(
        `${out.Errors.length} of ${objects.length} deletes refused (${out.Errors[0]?.Code}: ${out.Errors[0]?.Key})`,
      );
  }
  return { before, partitions: [...partitions].sort(), objectsDeleted: due.length };
}

/** The first day kept: today (UTC) less the retention. */
export const retentionCutoff = (now: number, days: number): string => utcDate(now - days * 86_400_000);

export function createHandler(makeClient: () => S3Client, now: () => number = Date.now) {
  let s3: S3Client | undefined;
  return async (): Promise<RetentionReport> => {
    const config = readConfig(retentionConfigSchema, process.env);
    s3 ??= makeClient();
    const report = await expirePartitions(
      s3,
      config.OFFLINE_BUCKET,
      retentionCutoff(now(), config.OFFLINE_RETENTION_DAYS),
    );
    logger.info('offline partitions past retention deleted', {
      before: report.before,
      partitions: report.partitions.length,
      objectsDeleted: report.objectsDeleted,
    });
    return report;
  };
}

/** The deployed handler (a daily schedule invokes it). */
export const handler = createHandler(() => new S3Client(s3ClientConfig(false)));
