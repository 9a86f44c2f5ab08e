/**
 * Offline objects under the key of what they hold: the processor writes a group holding no PII
 * (merchant) under the general key, so that a data scientist cleared for it alone can read it, and
 * the offline jobs that rewrite objects (compaction, erasure) keep each object's key. S3 SSE-KMS has
 * no stand-in (s3rver ignores it): the S3 calls are checked with aws-sdk-client-mock, the jobs on
 * the in-memory store, which keeps keys as S3 does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { S3OfflineSink } from '../../lambdas/adapters/s3-offline-sink.js';
import type { OfflineBatch } from '../../lambdas/core/ports.js';
import { offlineObjectKeyClasses, storeClassifications } from '../../lib/data-classification.js';
import { compactDataset } from '../../offline/compaction/compact.js';
import { DuckDbSession } from '../../offline/duckdb.js';
import { removeRows } from '../../offline/erasure/remove-rows.js';
import { historyDataset } from '../../offline/layout.js';
import { S3ObjectStore } from '../../offline/storage/s3-object-store.js';
import { customer } from '../../schemas/customer.features.js';
import { contracts } from '../../schemas/index.js';
import { merchant } from '../../schemas/merchant.features.js';
import { MemoryObjectStore } from '../support/memory-object-store.js';
import { at, objectOf, offlineBatchesOf } from '../support/offline-fixtures.js';

const GENERAL = 'arn:aws:kms:me-central-1:111122223333:key/11111111-2222-3333-4444-555555555555';
const PII = 'arn:aws:kms:me-central-1:111122223333:key/99999999-8888-7777-6666-555555555555';
const MERCHANT = 'features/group=merchant/';
const MIN = 60_000;

const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

/** Merchant history of one day, one object per processor batch. */
async function merchantBatches(n: number): Promise<OfflineBatch[]> {
  const steps = Array.from({ length: n }, (_, i) => {
    const t = at('2026-07-01T08:00:00Z') + i * 7 * MIN;
    return {
      event: { customerId: `cus_key${i % 3}`, merchantId: `mer_key${i % 2}`, amountMinor: 100 + i },
      arrival: t + 1000,
    };
  }).map((s) => ({ ...s, event: { ...s.event, eventTime: new Date(s.arrival - 1000).toISOString() } }));
  return (await offlineBatchesOf(steps)).filter((b) => b.prefix === MERCHANT);
}

/** The batches as the processor stored them, each under the given key (undefined: the bucket's). */
async function storeOf(batches: readonly OfflineBatch[], keyOf: (i: number) => string | undefined) {
  const store = new MemoryObjectStore();
  batches.forEach((b, i) => {
    const { key, body } = objectOf(b);
    store.objects.set(key, body);
    const keyId = keyOf(i);
    if (keyId) store.kmsKeys.set(key, keyId);
  });
  return store;
}

describe('offline objects under the key of what they hold', () => {
  it('puts a group holding no PII under the general key, and only that group', () => {
    const stores = storeClassifications(contracts.values(), [customer, merchant]);
    // The bucket may hold PII (customer history, raw transactions): its default is the PII key.
    expect(stores.offlineBucket).toBe('pii');
    expect(offlineObjectKeyClasses(stores)).toEqual({ [MERCHANT]: 'general' });
  });

  it('the processor writes the named datasets with their key (SSE-KMS, bucket key) and others with the default', async () => {
    s3.on(PutObjectCommand).resolves({});
    const sink = new S3OfflineSink({
      bucket: 'offline',
      client: new S3Client({ region: 'me-central-1' }),
      objectKeyIds: { [MERCHANT]: GENERAL },
    });
    const batches = await offlineBatchesOf([
      {
        event: { customerId: 'cus_key1', merchantId: 'mer_key1', eventTime: '2026-07-01T08:00:00Z' },
        arrival: at('2026-07-01T08:00:01Z'),
      },
    ]);
    expect(batches.map((b) => b.prefix).sort()).toEqual([
      'events/contract=transaction/',
      'features/group=customer/',
      MERCHANT,
    ]);
    expect(await sink.append(batches)).toEqual(['stored', 'stored', 'stored']);
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    const encryption = Object.fromEntries(
      puts.map((p) => [
        (p.Key as string).split('dt=')[0],
        [p.ServerSideEncryption, p.SSEKMSKeyId, p.BucketKeyEnabled],
      ]),
    );
    expect(encryption).toEqual({
      [MERCHANT]: ['aws:kms', GENERAL, true],
      'features/group=customer/': [undefined, undefined, undefined],
      'events/contract=transaction/': [undefined, undefined, undefined],
    });
  });

  describe('S3ObjectStore: a rewrite keeps the key of what it was made from', () => {
    // What the store reads of a GetObject body.
    const body = () => ({ transformToByteArray: async () => new Uint8Array([120]) }) as never;
    const store = () =>
      new S3ObjectStore({ bucket: 'offline', client: new S3Client({ region: 'me-central-1' }) });
    const putOf = () => s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input)[0];
    /** GetObject of `key` answers an object under `keyId`. */
    const readsUnder = (key: string | undefined, keyId: string) =>
      s3.on(GetObjectCommand, key ? { Key: key } : {}).callsFake(() => ({
        Body: body(),
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: keyId,
      }));

    it('takes the key its sources were read with', async () => {
      readsUnder(undefined, GENERAL);
      s3.on(PutObjectCommand).resolves({});
      const st = store();
      await st.get('a');
      await st.get('b');
      await st.put('c', new Uint8Array([1]), 'application/octet-stream', { encryptLike: ['a', 'b'] });
      expect(putOf()).toMatchObject({
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: GENERAL,
        BucketKeyEnabled: true,
      });
      expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(0);
    });

    it('takes the bucket default when its sources have different keys', async () => {
      readsUnder('a', GENERAL);
      readsUnder('b', PII);
      s3.on(PutObjectCommand).resolves({});
      const st = store();
      await st.get('a');
      await st.get('b');
      await st.put('c', new Uint8Array([1]), 'application/octet-stream', { encryptLike: ['a', 'b'] });
      expect(putOf()?.SSEKMSKeyId).toBeUndefined();
      expect(putOf()?.ServerSideEncryption).toBeUndefined();
    });

    it('asks S3 for the key of a source it did not read', async () => {
      s3.on(HeadObjectCommand).resolves({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: GENERAL });
      s3.on(PutObjectCommand).resolves({});
      await store().put('c', new Uint8Array([1]), 'application/octet-stream', { encryptLike: ['a'] });
      expect(s3.commandCalls(HeadObjectCommand).map((c) => c.args[0].input.Key)).toEqual(['a']);
      expect(putOf()?.SSEKMSKeyId).toBe(GENERAL);
    });
  });

  it('compaction keeps the general key of a partition written under it, and falls back to the default for a mixed one', async () => {
    const batches = await merchantBatches(6);
    const now = () => at('2026-07-10T12:00:00Z');
    const general = await storeOf(batches, () => GENERAL);
    const [merged] = await compactDataset(general, historyDataset(merchant), { now });
    expect(merged).toMatchObject({ mode: 'merged', inputObjects: 6, outputObjects: 1 });
    expect([...general.objects.keys()]).toHaveLength(1);
    expect([...general.kmsKeys.values()]).toEqual([GENERAL]);

    // Written across the upgrade: some objects under the bucket's default key.
    const mixed = await storeOf(batches, (i) => (i < 3 ? undefined : GENERAL));
    await compactDataset(mixed, historyDataset(merchant), { now });
    expect([...mixed.objects.keys()]).toHaveLength(1);
    expect(mixed.kmsKeys.size).toBe(0);
  });

  it('erasure rewrites an object under the key it had', async () => {
    // One compacted object of six rows, two merchants: erasing one rewrites it.
    const store = await storeOf(await merchantBatches(6), () => GENERAL);
    await compactDataset(store, historyDataset(merchant), { now: () => at('2026-07-10T12:00:00Z') });
    const session = await DuckDbSession.open({ threads: 1, memoryLimit: '256MB' });
    const workDir = await mkdtemp(join(tmpdir(), 'fp-keys-'));
    try {
      const removed = await removeRows({
        store,
        session,
        prefix: MERCHANT,
        predicate: `merchant_id = 'mer_key0'`,
        workDir,
      });
      expect(removed).toMatchObject({ objectsRewritten: 1, rowsRemoved: 3 });
      expect([...store.kmsKeys.values()]).toEqual([GENERAL]);
    } finally {
      session.close();
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
