/**
 * The whole pipeline on the stand-ins: Kinesis -> local event source mapping -> the real
 * processor handler -> DynamoDB and S3 -> the real lookup handler over HTTP.
 */

import { readFileSync } from 'node:fs';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FeatureApiError, FeatureClient } from '../../clients/feature-client.js';
import { executeApiSigner, signedFetch } from '../../clients/sigv4.js';
import { AesGcmSealer, localDataKey } from '../../lambdas/adapters/aes-gcm-sealer.js';
import { localDynamoDbClient, localKinesisClient, localS3Client } from '../../local/clients.js';
import { importHandler, type LocalEndpoints, type LocalPlatform } from '../../local/platform.js';
import { envelope, inputRecords, kinesisEvent, transaction } from '../support/records.js';
import { getBytes, getJson, listKeys, readParquetRows } from '../support/s3.js';
import { putAndDrain, startTestPlatform } from '../support/test-platform.js';

/** The lookup answer or problem, as a test reads it. */
interface LookupBody {
  eventId?: string;
  eventTime?: string;
  status?: number;
  detail?: string;
  features: Record<string, { value: unknown; eventTime: string; status: string }>;
}

describe('pipeline on the stand-ins', () => {
  const standIns = inject('standIns');
  const kinesis = localKinesisClient(standIns);
  const s3 = localS3Client(standIns);
  const dynamodb = localDynamoDbClient(standIns);
  let platform: LocalPlatform;

  beforeAll(async () => {
    platform = await startTestPlatform(standIns, 'pipe');
  });
  afterAll(async () => {
    await platform?.stop();
  });

  const put = (events: { partitionKey: string; payload: string }[]) => putAndDrain(kinesis, platform, events);
  const lookup = async (group: string, id: string) => {
    const res = await signedFetch(signer(), `${platform.endpoints.api.url}/v1/features/${group}/${id}`);
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: (await res.json()) as LookupBody,
    };
  };
  const now = () => new Date().toISOString();
  /** Requests are signed as the fraud-scoring service, as API Gateway's IAM auth requires. */
  const signer = () =>
    executeApiSigner(platform.endpoints.region, platform.endpoints.api.roles['consumer-fraud-scoring']);

  it('makes a valid event visible through the lookup API', async () => {
    const e = transaction({
      customerId: 'cus_vis1',
      merchantId: 'mer_vis1',
      amountMinor: 777,
      eventTime: now(),
    });
    await put([{ partitionKey: e.customerId, payload: envelope(e) }]);

    const customer = await lookup('customer', 'cus_vis1');
    expect(customer.status).toBe(200);
    expect(customer.body.eventId).toBe(e.eventId);
    expect(customer.body.eventTime).toBe(e.eventTime);
    expect(customer.body.features.last_amount_minor).toEqual({
      value: 777,
      eventTime: e.eventTime,
      status: 'present',
    });
    expect(customer.body.features.email).toEqual({ value: null, eventTime: e.eventTime, status: 'masked' });
    const merchant = await lookup('merchant', 'mer_vis1');
    expect(merchant.body.features.last_customer_country?.value).toBe('AE');
  });

  it('answers a batch lookup across groups over HTTP, rows in request order', async () => {
    const e = transaction({
      customerId: 'cus_bat1',
      merchantId: 'mer_bat1',
      amountMinor: 42,
      eventTime: now(),
    });
    await put([{ partitionKey: e.customerId, payload: envelope(e) }]);
    const res = await signedFetch(signer(), `${platform.endpoints.api.url}/v1/features:get`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        features: ['customer:amount_sum_1h', 'merchant:txn_count_1h'],
        entities: [
          { customer_id: 'cus_none', merchant_id: 'mer_bat1' },
          { customer_id: 'cus_bat1', merchant_id: 'mer_bat1' },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const { rows } = (await res.json()) as {
      rows: { features: Record<string, { value: unknown; status: string }> }[];
    };
    expect(rows.map((r) => r.features['customer:amount_sum_1h']?.status)).toEqual(['not_found', 'present']);
    expect(rows[1]?.features['customer:amount_sum_1h']?.value).toBe(42);
    expect(rows[0]?.features['merchant:txn_count_1h']?.value).toBe(1);
  });

  it('serves the typed FeatureClient, signed with the local credentials, and maps problems to errors', async () => {
    const e = transaction({ customerId: 'cus_cli1', amountMinor: 9, eventTime: now() });
    await put([{ partitionKey: e.customerId, payload: envelope(e) }]);
    const client = new FeatureClient({
      baseUrl: platform.endpoints.api.url,
      region: platform.endpoints.region,
      credentials: platform.endpoints.api.roles['consumer-fraud-scoring'],
    });

    const one = await client.getEntity('customer', 'cus_cli1', ['last_amount_minor']);
    expect(one.features.last_amount_minor?.value).toBe(9);
    const batch = await client.getFeatures({
      features: ['customer:txn_count_1h'],
      entities: [{ customer_id: 'cus_cli1' }],
    });
    expect(batch.rows[0]?.features['customer:txn_count_1h']?.value).toBe(1);
    const error = await client.getEntity('customer', 'bob').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(FeatureApiError);
    expect(error).toMatchObject({
      status: 400,
      problem: { detail: expect.stringMatching(/customer_id is malformed/) },
    });
  });

  it('does not let a late older event overwrite a newer value, and keeps both offline', async () => {
    const t = Date.now();
    const newer = transaction({
      customerId: 'cus_ooo1',
      amountMinor: 2,
      eventTime: new Date(t).toISOString(),
    });
    const older = transaction({
      customerId: 'cus_ooo1',
      amountMinor: 1,
      eventTime: new Date(t - 600_000).toISOString(),
    });
    await put([{ partitionKey: 'cus_ooo1', payload: envelope(newer) }]);
    await put([{ partitionKey: 'cus_ooo1', payload: envelope(older) }]);

    const got = await lookup('customer', 'cus_ooo1');
    expect(got.body.features.last_amount_minor?.value).toBe(2);
    const rows = await readParquetRows(s3, platform.names.offlineBucket, 'features/group=customer/');
    const mine = rows.filter((r) => r.customer_id === 'cus_ooo1');
    expect(mine.map((r) => r.last_amount_minor).sort()).toEqual([1n, 2n]);
    expect(mine[0]?.event_time).toBeInstanceOf(Date);
  });

  it('changes nothing when Lambda delivers the same batch again', async () => {
    const handler =
      await importHandler<(e: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>>('processor');
    const records = inputRecords(
      [
        envelope(transaction({ customerId: 'cus_redo', eventTime: now() })),
        envelope(transaction({ customerId: 'cus_redo', eventTime: now() })),
      ],
      { shardId: 'shardId-000000000009', arrivalTime: Date.now() },
    );
    const event = kinesisEvent(records);
    const state = async () => ({
      online: (
        await dynamodb.send(new ScanCommand({ TableName: platform.names.onlineTable, ConsistentRead: true }))
      ).Items,
      offline: await listKeys(s3, platform.names.offlineBucket),
    });

    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    const before = await state();
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    expect(await state()).toEqual(before);
  });

  it('quarantines an invalid record with its reason and applies the rest of the batch', async () => {
    const good = transaction({ customerId: 'cus_qok1', eventTime: now() });
    const bad = JSON.stringify({
      contract: 'transaction',
      version: 1,
      event: { ...good, eventId: 'evt_bad00001', currency: 'dirham' },
    });
    await put([
      { partitionKey: 'cus_qok1', payload: bad },
      { partitionKey: 'cus_qok1', payload: envelope(good) },
    ]);

    expect((await lookup('customer', 'cus_qok1')).body.eventId).toBe(good.eventId);
    const keys = await listKeys(s3, platform.names.sideOutputBucket, 'quarantine/');
    const entries = await Promise.all(
      keys.map((k) => getJson<Record<string, string>>(s3, platform.names.sideOutputBucket, k)),
    );
    // Raw payloads are sealed under the PII key; an operator holding the key can read them back.
    const sealer = new AesGcmSealer(localDataKey(Buffer.from(process.env.PII_SEAL_KEY as string, 'base64')));
    const opened = await Promise.all(
      entries.map(async (q) => Buffer.from(await sealer.unseal(q.sealedData as never)).toString()),
    );
    const entry = entries[opened.indexOf(bad)];
    expect(entry?.data).toBeUndefined();
    expect(entry?.reason).toMatch(/violates contract transaction v1: currency: must be an ISO 4217 code/);
    expect(entry?.kind).toBe('quarantine');
  });

  it('serves events from a producer that only knows .local/endpoints.json and the plain AWS SDK', async () => {
    // What a producer team in another codebase does: read the file, build a default client, send.
    const file = JSON.parse(readFileSync(platform.endpointsFile, 'utf8')) as LocalEndpoints;
    const foreign = new KinesisClient({
      region: file.region,
      endpoint: file.kinesis.endpoint,
      credentials: file.credentials,
    });
    const event = { ...(file.envelope.example as { event: Record<string, unknown> }).event };
    Object.assign(event, { eventId: 'evt_foreign_0001', customerId: 'cus_foreign1', eventTime: now() });
    await foreign.send(
      new PutRecordCommand({
        StreamName: file.kinesis.streamName,
        PartitionKey: 'cus_foreign1',
        Data: new TextEncoder().encode(JSON.stringify({ contract: 'transaction', version: 1, event })),
      }),
    );
    foreign.destroy();

    const consumer = executeApiSigner(file.region, file.api.roles['consumer-fraud-scoring']);
    let got = await signedFetch(consumer, `${file.api.url}/v1/features/customer/cus_foreign1`);
    for (let i = 0; got.status === 404 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      got = await signedFetch(consumer, `${file.api.url}/v1/features/customer/cus_foreign1`);
    }
    expect(got.status).toBe(200);
    expect(((await got.json()) as { eventId: string }).eventId).toBe('evt_foreign_0001');
  });

  it('stores no raw PII anywhere: online items, offline Parquet and side outputs hold tokens or sealed payloads', async () => {
    const email = 'very.private.person@example.ae';
    const e = transaction({ customerId: 'cus_pii1', customerEmail: email, eventTime: now() });
    const invalid = JSON.stringify({
      contract: 'transaction',
      version: 2,
      event: { ...e, eventId: 'evt_pii_bad1', currency: 'JPY' },
    });
    await put([
      { partitionKey: 'cus_pii1', payload: envelope(e) },
      { partitionKey: 'cus_pii1', payload: envelope(e) },
      { partitionKey: 'cus_pii1', payload: invalid },
    ]);

    const items =
      (await dynamodb.send(new ScanCommand({ TableName: platform.names.onlineTable }))).Items ?? [];
    const texts = [JSON.stringify(items)];
    for (const bucket of [platform.names.offlineBucket, platform.names.sideOutputBucket]) {
      for (const key of await listKeys(s3, bucket)) {
        texts.push(
          key.endsWith('.parquet')
            ? JSON.stringify(await readParquetRows(s3, bucket, key), (_, v) =>
                typeof v === 'bigint' ? String(v) : v,
              )
            : new TextDecoder().decode(await getBytes(s3, bucket, key)),
        );
      }
    }
    expect(texts.join('\n')).toContain('cus_pii1'); // the entity is there...
    expect(texts.join('\n')).not.toContain(email); // ...its e-mail is not
    expect(texts.join('\n')).not.toContain('very.private.person');
  });

  it('refuses an unsigned call, a bad signature and a role without the group, as IAM auth and RBAC say', async () => {
    const url = `${platform.endpoints.api.url}/v1/features/customer/cus_vis1`;
    expect((await fetch(url)).status).toBe(403);
    const forged = executeApiSigner(platform.endpoints.region, {
      accessKeyId: platform.endpoints.api.roles['consumer-fraud-scoring']?.accessKeyId ?? '',
      secretAccessKey: 'not-the-secret',
    });
    const bad = await signedFetch(forged, url);
    expect(bad.status).toBe(403);
    expect(((await bad.json()) as { message: string }).message).toMatch(
      /signature we calculated does not match/,
    );
    const merchantOnly = executeApiSigner(
      platform.endpoints.region,
      platform.endpoints.api.roles['consumer-merchant-risk'],
    );
    const denied = await signedFetch(merchantOnly, url);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { detail: string }).detail).toMatch(
      /consumer-merchant-risk may not read feature group\(s\) customer/,
    );
  });

  it.each([
    ['an unknown entity', 'customer/cus_nobody1', 404, /no customer features for cus_nobody1/],
    ['a malformed entity id', 'customer/bob', 400, /customer_id is malformed/],
    ['an unknown group', 'account/cus_0001', 400, /unknown feature group "account"/],
  ])('answers %s with a problem+json %i', async (_, path, status, detail) => {
    const [group, id] = path.split('/') as [string, string];
    const got = await lookup(group, id);
    expect(got.status).toBe(status);
    expect(got.type).toBe('application/problem+json');
    expect(got.body).toMatchObject({ status });
    expect(got.body.detail).toMatch(detail);
  });
});
