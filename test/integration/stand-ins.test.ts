import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, ListShardsCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, inject, it } from 'vitest';
import { localDynamoDbClient, localKinesisClient, localS3Client } from '../../local/clients.js';
import { uniquePrefix } from '../support/resources.js';

describe('embedded stand-ins', () => {
  const endpoints = inject('standIns');

  it('serves Kinesis, DynamoDB and S3 on loopback', async () => {
    const prefix = uniquePrefix();
    const kinesis = localKinesisClient(endpoints);
    await kinesis.send(new CreateStreamCommand({ StreamName: prefix, ShardCount: 2 }));
    await waitUntilStreamExists({ client: kinesis, maxWaitTime: 10, minDelay: 0.1 }, { StreamName: prefix });
    const shards = await kinesis.send(new ListShardsCommand({ StreamName: prefix }));
    expect(shards.Shards).toHaveLength(2);

    const tables = await localDynamoDbClient(endpoints).send(new ListTablesCommand({}));
    expect(tables.TableNames).toBeInstanceOf(Array);

    const s3 = localS3Client(endpoints);
    await s3.send(new CreateBucketCommand({ Bucket: prefix }));
    await s3.send(new PutObjectCommand({ Bucket: prefix, Key: 'a/b.json', Body: '{"streamed":true}' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: prefix, Key: 'a/b.json' }));
    expect(await got.Body?.transformToString()).toBe('{"streamed":true}');
    for (const url of [endpoints.kinesis, endpoints.dynamodb, endpoints.s3])
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
