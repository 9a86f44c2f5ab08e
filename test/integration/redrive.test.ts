/**
 * `npm run redrive` on the local platform: records the event source mapping gave up on, kept by its
 * S3 on-failure destination as AWS writes them, go back into the stream through the CLI and are
 * processed by the real processor. One never got anywhere (a DynamoDB outage): it is applied, online
 * and offline. One was applied before its batch was given up: it is a duplicate, counted once. The
 * objects are deleted, and a second run finds nothing.
 *
 * And records the processor parked (an entity they feed could not be written; sealed under the PII
 * key) go back for the processor to complete: the one parked whole is decided afresh, those parked
 * for the merchant group are applied to that merchant alone, and their entries move to parked-done/.
 */
import { randomBytes } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import { OnlineStoreError } from '../../lambdas/adapters/errors.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import { createProcessorDeps } from '../../lambdas/processor/deps.js';
import { processorConfigSchema, readConfig } from '../../lambdas/shared/config.js';
import { localDynamoDbClient, localKinesisClient, localS3Client } from '../../local/clients.js';
import { invocationRecord, onFailureObjectKey } from '../../local/on-failure-destination.js';
import type { LocalPlatform } from '../../local/platform.js';
import type { RedriveReport } from '../../offline/redrive/redrive.js';
import { featureGroupsByName } from '../../schemas/index.js';
import { runCli } from '../support/cli.js';
import { envelope, inputRecords, kinesisEvent, transaction } from '../support/records.js';
import { getJson, listKeys, readParquetRows } from '../support/s3.js';
import { putAndDrain, startTestPlatform } from '../support/test-platform.js';

const GENERAL_KEY = 'arn:aws:kms:me-central-1:000000000000:key/11111111-2222-3333-4444-555555555555';

describe('npm run redrive', () => {
  const standIns = inject('standIns');
  const kinesis = localKinesisClient(standIns);
  const s3 = localS3Client(standIns);
  const lost = `cus_lost${randomBytes(4).toString('hex')}`;
  const applied = `cus_done${randomBytes(4).toString('hex')}`;
  let platform: LocalPlatform;

  const redriveCli = () => runCli<RedriveReport>('redrive', ['--endpoints', platform.endpointsFile]);
  const customerRows = async () =>
    (await readParquetRows(s3, platform.names.offlineBucket, 'features/group=customer/')).map(
      (r) => r.customer_id,
    );

  beforeAll(async () => {
    platform = await startTestPlatform(standIns, 'redrive', {
      shardCount: 1,
      streamSource: { maxBatchingWindowMs: 20 },
    });
  }, 60_000);
  afterAll(async () => {
    await platform?.stop();
  });

  it('puts given-up records back in the stream: applied once, duplicates decided, objects gone', async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const done = transaction({ customerId: applied, merchantId: 'mer_redrive1', eventTime: iso(now - 5000) });
    const never = transaction({ customerId: lost, merchantId: 'mer_redrive1', eventTime: iso(now - 4000) });
    // `done` was processed before its batch was given up; `never` got nowhere (the store was down).
    await putAndDrain(kinesis, platform, [{ partitionKey: applied, payload: envelope(done) }]);
    const records = kinesisEvent(
      inputRecords([envelope(done), envelope(never)], { arrivalTime: now - 3000 }).map((r, i) => ({
        ...r,
        partitionKey: i === 0 ? applied : lost,
      })),
    ).Records;
    const given = invocationRecord({
      records,
      shardId: 'shardId-000000000000',
      streamArn: 'arn:aws:kinesis:me-central-1:000000000000:stream/test',
      functionArn: 'arn:aws:lambda:me-central-1:000000000000:function:processor',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 6,
    });
    const key = onFailureObjectKey('', 'esm-1', 'shardId-000000000000', new Date());
    await s3.send(
      new PutObjectCommand({
        Bucket: platform.names.sideOutputBucket,
        Key: key,
        Body: JSON.stringify(given),
      }),
    );
    expect(await customerRows()).not.toContain(lost);

    const report = await redriveCli();
    await platform.eventSourceMapping.drain(30_000);

    expect(report).toMatchObject({
      objects: 1,
      records: 2,
      sent: 2,
      objectsDeleted: 1,
      kept: [],
      unreadable: [],
    });
    expect(await listKeys(s3, platform.names.sideOutputBucket, 'aws/lambda/')).toEqual([]);
    const rows = await customerRows();
    expect(rows.filter((c) => c === lost)).toHaveLength(1);
    expect(rows.filter((c) => c === applied)).toHaveLength(1); // not a second time
    const duplicates = await listKeys(s3, platform.names.sideOutputBucket, 'duplicate/');
    expect(duplicates.length).toBeGreaterThan(0);
    const store = new DynamoDbEntityStore({
      tableName: platform.names.onlineTable,
      client: localDynamoDbClient(standIns),
    });
    const [online] = await store.load([{ group: 'customer', entityId: lost }]);
    expect(online?.state.latest?.eventId).toBe(never.eventId);

    expect(await redriveCli()).toMatchObject({ objects: 0, records: 0, sent: 0 });
  }, 60_000);

  it('finishes parked records: the processor completes each once, whole ones decided afresh, others for their group alone', async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const suffix = randomBytes(4).toString('hex');
    const broken = `cus_brk${suffix}`;
    const merchant = `mer_brk${suffix}`;
    const payers = [`cus_pa${suffix}`, `cus_pb${suffix}`];
    const events = [
      transaction({ customerId: broken, merchantId: `mer_ok${suffix}`, eventTime: iso(now - 9000) }),
      transaction({ customerId: payers[0], merchantId: merchant, eventTime: iso(now - 8000) }),
      transaction({ customerId: payers[1], merchantId: merchant, eventTime: iso(now - 7000) }),
    ];
    // The real processor and adapters of the platform, but DynamoDB refusing two entities for good.
    const deps = createProcessorDeps(readConfig(processorConfigSchema, process.env));
    const refused = new Set([`customer#${broken}`, `merchant#${merchant}`]);
    const entities = deps.entities;
    const records = inputRecords(
      events.map((e) => envelope(e)),
      { shardId: 'shardId-000000000077', arrivalTime: now - 5000 },
    ).map((r, i) => ({ ...r, partitionKey: events[i]?.customerId as string }));
    const result = await processBatch(records, {
      ...deps,
      entities: {
        ...entities,
        load: (keys, o) => entities.load(keys, o),
        save: async (writes) => {
          const out = await entities.save(
            writes.filter((w) => !refused.has(`${w.key.group}#${w.key.entityId}`)),
          );
          return writes.map((w) =>
            refused.has(`${w.key.group}#${w.key.entityId}`)
              ? { failed: new OnlineStoreError('refused', 'online', { permanent: true }) }
              : (out.shift() ?? 'saved'),
          );
        },
        addIds: entities.addIds?.bind(entities),
        writeUnits: entities.writeUnits,
      },
    });
    expect(result).toMatchObject({ failed: [], parked: 3 });
    const bucket = platform.names.sideOutputBucket;
    const parked = await listKeys(s3, bucket, 'parked/');
    expect(parked).toHaveLength(3);
    const sealed = await getJson<Record<string, unknown>>(s3, bucket, parked[0] as string);
    expect(sealed.data).toBeUndefined(); // its payload is sealed under the PII key
    expect(sealed.sealedData).toBeDefined();
    const hashes = await Promise.all(
      parked.map(async (k) => (await getJson<{ dataSha256: string }>(s3, bucket, k)).dataSha256),
    );
    expect(hashes.every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);

    const merchantCount = async () => {
      const [m] = await new DynamoDbEntityStore({
        tableName: platform.names.onlineTable,
        client: localDynamoDbClient(standIns),
      }).load([{ group: 'merchant', entityId: merchant }]);
      const group = featureGroupsByName.get('merchant');
      return m && group ? evaluateWindows(group, m.state.tiles, now).txn_count_24h : undefined;
    };
    expect(await merchantCount()).toBeUndefined();

    // The cause fixed, the steward redrives (the CLI gets the local PII key as PII_SEAL_KEY).
    const report = await redriveCli();
    expect(report).toMatchObject({
      kept: [],
      unreadable: [],
      parked: { entries: 3, sent: 3 },
    });
    await platform.eventSourceMapping.drain(30_000);

    expect(await merchantCount()).toBe(2);
    expect(await listKeys(s3, bucket, 'parked/')).toEqual([]);
    // Each completion (parked-done/) names the bytes it completed: a later copy of them is a duplicate.
    const completions = await deps.sideOutput.parked(parked);
    expect(completions.map((c) => (c && 'completedBy' in c ? c.dataSha256 : c))).toEqual(hashes);
    const merchantRows = (
      await readParquetRows(s3, platform.names.offlineBucket, 'features/group=merchant/')
    ).filter((r) => r.merchant_id === merchant);
    expect(merchantRows).toHaveLength(2);
    expect((await customerRows()).filter((c) => c === broken)).toHaveLength(1);
    const customerPayers = (await customerRows()).filter((c) => payers.includes(String(c)));
    expect(customerPayers).toHaveLength(2); // written once, with the original records

    // Nothing left: a second run sends nothing, and the merchant keeps its two payments.
    expect(await redriveCli()).toMatchObject({ parked: { entries: 0, sent: 0 } });
    await platform.eventSourceMapping.drain(30_000);
    expect(await merchantCount()).toBe(2);
  }, 60_000);

  it('puts the offline objects the processor parked in place: an offline bucket refusing puts near the age limit loses no rows', async () => {
    const now = Date.now();
    const suffix = randomBytes(4).toString('hex');
    const customer = `cus_rows${suffix}`;
    const event = transaction({
      customerId: customer,
      merchantId: `mer_rows${suffix}`,
      eventTime: new Date(now - 23 * 3_600_000 - 9000).toISOString(),
    });
    // The real adapters, but an offline bucket that refuses every put (here: one that does not exist),
    // and records (and their events) 23 hours old, past the park age.
    const config = readConfig(processorConfigSchema, {
      ...process.env,
      OFFLINE_BUCKET: `${platform.names.offlineBucket}-gone`,
      PARK_AFTER_AGE_SECONDS: String(22 * 3600),
      // Merchant history under its own key, as deployed: parked with the key named in its metadata.
      OFFLINE_OBJECT_KEYS: JSON.stringify({ 'features/group=merchant/': 'general' }),
      GENERAL_KMS_KEY_ID: GENERAL_KEY,
    });
    const records = inputRecords([envelope(event)], {
      shardId: 'shardId-000000000078',
      arrivalTime: now - 23 * 3_600_000,
    }).map((r) => ({ ...r, partitionKey: customer }));
    const deps = createProcessorDeps(config);
    // Delivered first when they arrived (their customer decides them; the puts fail, nothing is
    // parked yet): not decided by the park age, a record would be parked whole instead.
    const young = await processBatch(records, { ...deps, now: () => now - 23 * 3_600_000 + 60_000 });
    expect(young).toMatchObject({ failed: [records[0]?.sequenceNumber], rowsParked: 0 });
    const result = await processBatch(records, deps);
    expect(result).toMatchObject({ failed: [], rowsParked: 3 }); // customer, merchant and raw-event objects
    const parked = await listKeys(s3, platform.names.sideOutputBucket, 'parked-rows/');
    expect(parked.map((k) => k.split('/dt=')[0]).sort()).toEqual([
      'parked-rows/events/contract=transaction',
      'parked-rows/features/group=customer',
      'parked-rows/features/group=merchant',
    ]);
    expect((await customerRows()).filter((c) => c === customer)).toEqual([]);
    const merchantParked = parked.find((k) => k.includes('group=merchant')) as string;
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: platform.names.sideOutputBucket, Key: merchantParked }),
    );
    expect(head.Metadata).toEqual({ 'offline-kms-key-id': GENERAL_KEY });

    const report = await redriveCli();
    expect(report.parkedRows).toEqual({ objects: 3, restored: 3 });
    expect(report.kept).toEqual([]);
    expect(await listKeys(s3, platform.names.sideOutputBucket, 'parked-rows/')).toEqual([]);
    expect((await customerRows()).filter((c) => c === customer)).toHaveLength(1);
    const merchantRows = (
      await readParquetRows(s3, platform.names.offlineBucket, 'features/group=merchant/')
    ).filter((r) => r.merchant_id === `mer_rows${suffix}`);
    expect(merchantRows).toHaveLength(1);
    expect(await redriveCli()).toMatchObject({ parkedRows: { objects: 0, restored: 0 } });
  }, 60_000);
});
