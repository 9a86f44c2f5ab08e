/**
 * Counts what became of every record from the stores themselves, not from the processor's own
 * report: the ledger says which events were applied or late, the side-output bucket holds one
 * object per quarantined or duplicate record. A reconciliation job in AWS would do the same.
 */
import { type DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { ResourceNames } from '../lib/platform-spec.js';

export interface AuditCounts {
  readonly applied: number;
  readonly duplicates: number;
  readonly quarantined: number;
  readonly late: number;
}

async function countObjects(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let n = 0;
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    n += page.KeyCount ?? page.Contents?.length ?? 0;
  }
  return n;
}

export async function auditOutcomes(
  clients: { dynamodb: DynamoDBClient; s3: S3Client },
  names: ResourceNames,
): Promise<AuditCounts> {
  let applied = 0;
  let late = 0;
  const scan = paginateScan(
    { client: clients.dynamodb },
    { TableName: names.ledgerTable, ProjectionExpression: 'outcome', ConsistentRead: true },
  );
  for await (const page of scan) {
    for (const item of page.Items ?? []) {
      if (item.outcome?.S === 'applied') applied++;
      else if (item.outcome?.S === 'late') late++;
    }
  }
  const [quarantined, duplicates] = await Promise.all([
    countObjects(clients.s3, names.sideOutputBucket, 'quarantine/'),
    countObjects(clients.s3, names.sideOutputBucket, 'duplicate/'),
  ]);
  return { applied, duplicates, quarantined, late };
}
