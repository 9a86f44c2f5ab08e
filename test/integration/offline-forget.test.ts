/**
 * Right to erasure on the whole local platform: events of one customer go through Kinesis, the real
 * processor, DynamoDB and S3 (feature history, raw events, quarantine, late and duplicate side
 * outputs, an on-failure batch); `npm run forget` runs as a CLI against `.local/endpoints.json`;
 * then every table is scanned and every object of every bucket on the stand-ins is read, and the
 * id is nowhere. Another customer, in the same objects, is untouched.
 */

import { randomBytes } from 'node:crypto';
import { GetItemCommand, ListTablesCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localDynamoDbClient, localKinesisClient, localS3Client } from '../../local/clients.js';
import { invocationRecord, onFailureObjectKey } from '../../local/on-failure-destination.js';
import type { LocalPlatform } from '../../local/platform.js';
import { targetFrom } from '../../offline/cli-support.js';
import { type ForgetReport, forget } from '../../offline/erasure/forget.js';
import { DynamoDbOnlineEraser } from '../../offline/erasure/online.js';
import { idFingerprint } from '../../offline/erasure/target.js';
import { S3ObjectStore } from '../../offline/storage/s3-object-store.js';
import { runCli } from '../support/cli.js';
import { envelope, inputRecords, kinesisEvent, transaction } from '../support/records.js';
import { getBytes, listKeys, readParquetRows } from '../support/s3.js';
import { putAndDrain, startTestPlatform } from '../support/test-platform.js';

describe('npm run forget', () => {
  const standIns = inject('standIns');
  const kinesis = localKinesisClient(standIns);
  const s3 = localS3Client(standIns);
  const dynamodb = localDynamoDbClient(standIns);
  const gone = `cus_forget${randomBytes(4).toString('hex')}`;
  const kept = `cus_keep${randomBytes(4).toString('hex')}`;
  const dropped = `cus_drop${randomBytes(4).toString('hex')}`;
  const droppedEvent = transaction({ customerId: dropped, merchantId: 'mer_shared1' });
  const retried = `cus_retry${randomBytes(4).toString('hex')}`;
  const retriedEvent = transaction({ customerId: retried, merchantId: 'mer_shared1' });
  let platform: LocalPlatform;

  const put = (events: { partitionKey: string; payload: string }[]) => putAndDrain(kinesis, platform, events);
  const forgetCli = (entity: string, ...more: string[]) =>
    runCli<ForgetReport>('forget', [
      '--entity',
      entity,
      '--by',
      'DPO ticket 4711',
      '--endpoints',
      platform.endpointsFile,
      ...more,
    ]);

  /** Every item of every table and every object of every bucket on the stand-ins, as text. */
  const everything = async (): Promise<string> => {
    const texts: string[] = [];
    for (const table of (await dynamodb.send(new ListTablesCommand({}))).TableNames ?? []) {
      texts.push(JSON.stringify((await dynamodb.send(new ScanCommand({ TableName: table }))).Items ?? []));
    }
    for (const bucket of (await s3.send(new ListBucketsCommand({}))).Buckets ?? []) {
      for (const key of await listKeys(s3, bucket.Name as string)) {
        texts.push(key);
        texts.push(
          key.endsWith('.parquet')
            ? JSON.stringify(await readParquetRows(s3, bucket.Name as string, key), (_, v) =>
                typeof v === 'bigint' ? String(v) : v,
              )
            : new TextDecoder().decode(await getBytes(s3, bucket.Name as string, key)),
        );
      }
    }
    return texts.join('\n');
  };

  beforeAll(async () => {
    platform = await startTestPlatform(standIns, 'forget', {
      shardCount: 1,
      streamSource: { maxBatchingWindowMs: 20 },
    });
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const two = transaction({
      customerId: gone,
      merchantId: 'mer_shared1',
      eventTime: iso(now - 2 * 86_400_000),
    });
    const one = transaction({
      customerId: gone,
      merchantId: 'mer_shared1',
      eventTime: iso(now - 86_400_000),
    });
    const today = transaction({ customerId: gone, merchantId: 'mer_other1', eventTime: iso(now) });
    const other = transaction({ customerId: kept, merchantId: 'mer_shared1', eventTime: iso(now) });
    const bad = JSON.stringify({
      contract: 'transaction',
      version: 2,
      event: { ...transaction({ customerId: gone }), currency: 'JPY' },
    });
    await put([
      { partitionKey: gone, payload: envelope(two) },
      { partitionKey: gone, payload: envelope(one) },
    ]);
    await put([
      { partitionKey: gone, payload: envelope(today) },
      { partitionKey: kept, payload: envelope(other) },
      { partitionKey: dropped, payload: envelope({ ...droppedEvent, eventTime: iso(now) }) },
      { partitionKey: retried, payload: envelope(retriedEvent) },
      { partitionKey: gone, payload: bad },
    ]);
    await put([
      { partitionKey: gone, payload: envelope(today) }, // a producer retry: duplicate
      {
        partitionKey: gone,
        payload: envelope(transaction({ customerId: gone, eventTime: iso(now - 3 * 3_600_000) })),
      }, // late
    ]);
    // A batch the event source mapping gave up on, as AWS writes it: payloads in the clear.
    const records = kinesisEvent(
      inputRecords([
        envelope(transaction({ customerId: gone })),
        envelope(transaction({ customerId: kept })),
      ]),
    ).Records;
    const failed = invocationRecord({
      records,
      shardId: 'shardId-000000000000',
      streamArn: 'arn:aws:kinesis:me-central-1:000000000000:stream/test',
      functionArn: 'arn:aws:lambda:me-central-1:000000000000:function:processor',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 3,
    });
    await s3.send(
      new PutObjectCommand({
        Bucket: platform.names.sideOutputBucket,
        Key: onFailureObjectKey('', 'esm-1', 'shardId-000000000000', new Date()),
        Body: JSON.stringify(failed),
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await platform?.stop();
  });

  it('leaves the id in no table and no object of any bucket, reports what it removed and keeps an audit record without PII', async () => {
    const before = await everything();
    expect(before).toContain(gone);
    expect((await listKeys(s3, platform.names.sideOutputBucket)).map((k) => k.split('/')[0]).sort()).toEqual(
      expect.arrayContaining(['aws', 'duplicate', 'late', 'quarantine']),
    );

    const report = await forgetCli(`customer:${gone}`);

    const after = await everything();
    expect(after).not.toContain(gone);
    expect(after).toContain(kept);
    expect(report.online).toEqual([
      {
        table: platform.names.onlineTable,
        group: 'customer',
        itemDeleted: true,
        idBucketsDeleted: expect.any(Number),
      },
    ]);
    const rows = Object.fromEntries(report.offline.map((o) => [o.dataset, o.rowsRemoved]));
    expect(rows).toEqual({ 'features/customer': 3, 'events/transaction': 3 });
    expect(report.offline.find((o) => o.dataset === 'events/transaction')?.objectsRewritten).toBeGreaterThan(
      0,
    );
    expect(report.derived).toEqual([{ dataset: 'features/merchant', action: 'kept', rows: 3 }]);
    expect(report.sideOutputs).toMatchObject({
      entriesDeleted: 3,
      batchesRewritten: 1,
      recordsRemoved: 1,
      unhandled: [],
    });
    const audit = new TextDecoder().decode(await getBytes(s3, platform.names.offlineBucket, report.auditKey));
    expect(audit).not.toContain(gone);
    expect(JSON.parse(audit)).toMatchObject({
      kind: 'erasure',
      requestedBy: 'DPO ticket 4711',
      entity: { name: 'customer_id', sha256: idFingerprint({ entity: 'customer_id', id: gone }) },
    });
  }, 60_000);

  it("deletes an entity's id buckets of the seconds of its events, by key, and no other entity's", async () => {
    const table = platform.names.onlineTable;
    const item = (pk: string) => ({ pk: { S: pk }, dd: { S: '{"checkpoints":{},"recent":{}}' } });
    const pks = [
      'customer#cus_erase1',
      'customer/ids#cus_erase1@1795600000000',
      'customer/ids#cus_erase1@1795600001000',
      'customer/ids#cus_erase12@1795600000000', // an id that starts like it
      'merchant/ids#cus_erase1@1795600000000', // another group's
    ];
    for (const pk of pks) await dynamodb.send(new PutItemCommand({ TableName: table, Item: item(pk) }));
    const eraser = new DynamoDbOnlineEraser({ tableName: table, client: dynamodb });

    // Its event times: two seconds with buckets, one without.
    const times = [1_795_600_000_123, 1_795_600_000_999, 1_795_600_001_500, 1_795_600_002_000];
    expect(await eraser.erase([{ group: 'customer', entityId: 'cus_erase1' }], times)).toEqual([
      { itemDeleted: true, idBucketsDeleted: 2 },
    ]);
    const left = await Promise.all(
      pks.map(async (pk) =>
        Boolean((await dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } } }))).Item),
      ),
    );
    expect(left).toEqual([false, false, false, true, true]);
  });

  it('finds nothing more to remove when run again', async () => {
    const report = await forgetCli(`customer:${gone}`);
    expect(report.online[0]).toMatchObject({ itemDeleted: false, idBucketsDeleted: 0 });
    expect(report.offline.map((o) => o.rowsRemoved)).toEqual([0, 0]);
    expect(report.sideOutputs.entriesDeleted + report.sideOutputs.recordsRemoved).toBe(0);
  }, 60_000);

  it('finishes the job when run again after the online step failed, id buckets included', async () => {
    const table = platform.names.onlineTable;
    const second = Math.floor(Date.parse(retriedEvent.eventTime as string) / 1000) * 1000;
    // What a busy customer has once ids moved: an id bucket of the second of one of its events.
    const bucket = `customer/ids#${retried}@${second}`;
    await dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: bucket }, dd: { S: '{"checkpoints":{},"recent":{}}' } },
      }),
    );
    const exists = async (pk: string) =>
      Boolean((await dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } } }))).Item);
    expect(await exists(`customer#${retried}`)).toBe(true);
    const { s3: clientConfig } = targetFrom({ endpoints: platform.endpointsFile });
    const store = (bucketName: string) => new S3ObjectStore({ bucket: bucketName, clientConfig });
    const failing = {
      erase: async () => {
        throw new Error('DynamoDB unavailable (injected)');
      },
    };
    await expect(
      forget(
        { entity: `customer:${retried}`, requestedBy: 'DPO ticket 4712' },
        {
          offline: store(platform.names.offlineBucket),
          sideOutputs: store(platform.names.sideOutputBucket),
          online: failing,
          onlineTable: table,
        },
      ),
    ).rejects.toThrow('injected');

    const report = await forgetCli(`customer:${retried}`);

    expect(report.online[0]).toMatchObject({ group: 'customer', itemDeleted: true, idBucketsDeleted: 1 });
    expect(await exists(bucket)).toBe(false);
    expect(await exists(`customer#${retried}`)).toBe(false);
    expect(report.offline.map((o) => o.rowsRemoved)).toEqual([1, 1]);
  }, 60_000);

  it("drops the rows other groups derived from the entity's events when asked", async () => {
    const merchantRows = async () =>
      (await readParquetRows(s3, platform.names.offlineBucket, 'features/group=merchant/')).map(
        (r) => r.event_id,
      );
    expect(await merchantRows()).toContain(droppedEvent.eventId);

    const report = await forgetCli(`customer:${dropped}`, '--derived', 'drop');

    expect(report.derived).toEqual([{ dataset: 'features/merchant', action: 'dropped', rows: 1 }]);
    expect(await merchantRows()).not.toContain(droppedEvent.eventId);
    expect((await merchantRows()).length).toBeGreaterThan(0);
  }, 60_000);
});
