/**
 * Counts what became of every record from the stores themselves, not from the processor's own
 * report: applied events are the distinct event ids in the offline feature history, late ones the
 * late side-output objects whose outcome is `late`, and quarantined and duplicate records one
 * side-output object each. A reconciliation job in AWS (Athena over the same prefixes) does the same.
 */
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { mapWithConcurrency } from '../lambdas/adapters/concurrency.js';
import { OFFLINE_FEATURES_PREFIX, type ResourceNames } from '../lib/platform-spec.js';

export interface AuditCounts {
  readonly applied: number;
  readonly duplicates: number;
  readonly quarantined: number;
  readonly late: number;
}

async function keys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key);
  }
  return out;
}

async function bytes(s3: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await out.Body?.transformToByteArray()) ?? new Uint8Array();
}

export async function auditOutcomes(clients: { s3: S3Client }, names: ResourceNames): Promise<AuditCounts> {
  const { s3 } = clients;
  const [offlineKeys, lateKeys, quarantineKeys, duplicateKeys] = await Promise.all([
    keys(s3, names.offlineBucket, OFFLINE_FEATURES_PREFIX),
    keys(s3, names.sideOutputBucket, 'late/'),
    keys(s3, names.sideOutputBucket, 'quarantine/'),
    keys(s3, names.sideOutputBucket, 'duplicate/'),
  ]);
  const applied = new Set<string>();
  await mapWithConcurrency(offlineKeys, 8, async (key) => {
    const b = await bytes(s3, names.offlineBucket, key);
    const file = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    for (const row of await parquetReadObjects({ file, columns: ['event_id'] }))
      applied.add(String(row.event_id));
  });
  const lateOutcomes = await mapWithConcurrency(lateKeys, 8, async (key) => {
    const entry = JSON.parse(new TextDecoder().decode(await bytes(s3, names.sideOutputBucket, key))) as {
      outcome?: string;
    };
    return entry.outcome === 'late';
  });
  return {
    applied: applied.size,
    duplicates: duplicateKeys.length,
    quarantined: quarantineKeys.length,
    late: lateOutcomes.filter(Boolean).length,
  };
}
