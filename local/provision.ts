/**
 * Creates the platform's stream, tables and buckets on the stand-ins from lib/platform-spec.ts,
 * the same description the CDK stacks deploy from.
 */
import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  type KinesisClient,
  ResourceInUseException as StreamInUse,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { ONLINE_TABLE, type ResourceNames, type TableSpec } from '../lib/platform-spec.js';

export interface ProvisionClients {
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
}

async function createTable(dynamodb: DynamoDBClient, name: string, spec: TableSpec): Promise<void> {
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: spec.partitionKey.name, KeyType: 'HASH' }],
        AttributeDefinitions: [
          { AttributeName: spec.partitionKey.name, AttributeType: spec.partitionKey.type },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30, minDelay: 0.2 }, { TableName: name });
  await dynamodb
    .send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: spec.timeToLiveAttribute, Enabled: true },
      }),
    )
    .catch((error: Error) => {
      // Already enabled on a re-provision is fine; anything else is not.
      if (!/already enabled/i.test(error.message)) throw error;
    });
}

async function createBucket(s3: S3Client, name: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  }
}

/** Idempotent: provisioning twice leaves the same resources. */
export async function provision(
  clients: ProvisionClients,
  names: ResourceNames,
  shardCount: number,
): Promise<void> {
  const stream = (async () => {
    try {
      await clients.kinesis.send(
        new CreateStreamCommand({ StreamName: names.stream, ShardCount: shardCount }),
      );
    } catch (error) {
      if (!(error instanceof StreamInUse)) throw error;
    }
    await waitUntilStreamExists(
      { client: clients.kinesis, maxWaitTime: 30, minDelay: 0.2 },
      { StreamName: names.stream },
    );
  })();
  await Promise.all([
    stream,
    createTable(clients.dynamodb, names.onlineTable, ONLINE_TABLE),
    createBucket(clients.s3, names.offlineBucket),
    createBucket(clients.s3, names.sideOutputBucket),
  ]);
}
