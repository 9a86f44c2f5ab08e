/**
 * Counts what became of every record from the stores themselves, not from the processor's own
 * report: applied events are the distinct event ids in the offline feature history, late ones the
 * late side-output objects whose outcome is `late`, and quarantined and duplicate records one
 * side-output object each (a record parked whole counts as quarantined until a redrive applies it). A reconciliation job in AWS (Athena over the same prefixes) does the same.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { mapWithConcurrency } from '../lambdas/adapters/concurrency.js';
import { OFFLINE_FEATURES_PREFIX, PARKED_PREFIX, type ResourceNames } from '../lib/platform-spec.js';
import { S3ObjectStore } from '../offline/storage/s3-object-store.js';

export interface AuditCounts {
  readonly applied: number;
  readonly duplicates: number;
  readonly quarantined: number;
  readonly late: number;
}

export async function auditOutcomes(clients: { s3: S3Client }, names: ResourceNames): Promise<AuditCounts> {
  const offline = new S3ObjectStore({ bucket: names.offlineBucket, client: clients.s3 });
  const side = new S3ObjectStore({ bucket: names.sideOutputBucket, client: clients.s3 });
  const [offlineObjects, lateObjects, quarantined, duplicates, parkedObjects] = await Promise.all([
    offline.list(OFFLINE_FEATURES_PREFIX),
    side.list('late/'),
    side.list('quarantine/'),
    side.list('duplicate/'),
    side.list(PARKED_PREFIX),
  ]);
  const applied = new Set<string>();
  await mapWithConcurrency(offlineObjects, 8, async ({ key }) => {
    const b = await offline.get(key);
    const file = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    for (const row of await parquetReadObjects({ file, columns: ['event_id'] }))
      applied.add(String(row.event_id));
  });
  // Late and parked entries say the record's outcome: late (or quarantined, parked whole), or
  // applied (late for some groups, or parked for some).
  const outcomeIs = (objects: readonly { key: string }[], outcome: string) =>
    mapWithConcurrency(objects, 8, async ({ key }) => {
      const entry = JSON.parse(new TextDecoder().decode(await side.get(key))) as { outcome?: string };
      return entry.outcome === outcome;
    });
  const lateOutcomes = await outcomeIs(lateObjects, 'late');
  const parkedWhole = await outcomeIs(parkedObjects, 'quarantined');
  return {
    applied: applied.size,
    duplicates: duplicates.length,
    quarantined: quarantined.length + parkedWhole.filter(Boolean).length,
    late: lateOutcomes.filter(Boolean).length,
  };
}
