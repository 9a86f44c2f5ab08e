/**
 * Erasure in the side-output bucket, on an in-memory object store: what names the erased id is
 * taken out, and nothing of another entity, even one whose id starts with the erased one's.
 */
import { describe, expect, it } from 'vitest';
import type { SealedPayload } from '../../lambdas/core/ports.js';
import { eraseSideOutputs, showsId } from '../../offline/erasure/side-outputs.js';
import { MemoryObjectStore } from '../support/memory-object-store.js';
import { envelope, transaction } from '../support/records.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const bytes = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const SHARD = 'shardId-000000000000';

describe('showsId', () => {
  it('finds the id as a whole token, inside larger values too, and never as part of a longer id', () => {
    expect(showsId('{"customerId":"cus_0001"}', 'cus_0001')).toBe(true);
    expect(showsId('{"customerEmail":"cus_0001@example.ae"}', 'cus_0001')).toBe(true);
    expect(showsId('cus_0001', 'cus_0001')).toBe(true);
    expect(showsId('{"customerId":"cus_00012"}', 'cus_0001')).toBe(false);
    expect(showsId('{"customerId":"xcus_0001"}', 'cus_0001')).toBe(false);
    expect(showsId('{"customerId":"cus_0001a"}', 'cus_0001')).toBe(false);
    expect(showsId('a.b+c', 'a.b+c')).toBe(true); // not read as a pattern
    expect(showsId('aXb+c', 'a.b+c')).toBe(false);
  });
});

describe('eraseSideOutputs', () => {
  const gone = 'cus_0001';
  const other = 'cus_00012'; // a different customer whose id starts with the erased one's
  const payload = (customerId: string) =>
    envelope(transaction({ customerId, customerEmail: `${customerId}@example.ae` }));
  const entryKey = (kind: string, seq: string) => `${kind}/dt=2026-11-25/${SHARD}/${seq}.json`;
  const entry = (kind: string, seq: string, customerId: string) =>
    bytes({
      kind,
      recordId: `${SHARD}:${seq}`,
      shardId: SHARD,
      partitionKey: customerId,
      arrivalTime: '2026-11-25T10:00:01.000Z',
      reason: 'r',
      // Sealed as S3SideOutput writes it; the test's "key" leaves the ciphertext readable.
      sealedData: {
        alg: 'AES-256-GCM',
        encryptedKey: 'k',
        iv: '',
        tag: '',
        ciphertext: b64(payload(customerId)),
      },
    });
  const unseal = async (sealed: SealedPayload) => Buffer.from(sealed.ciphertext, 'base64');
  const record = (customerId: string, seq: string) => ({
    kinesis: { partitionKey: customerId, sequenceNumber: seq, data: b64(payload(customerId)) },
    eventID: `${SHARD}:${seq}`,
  });
  const failedKey = `aws/lambda/uuid/${SHARD}/2026/11/25/x`;

  it("takes out the erased customer's entries and on-failure records, and leaves those of a customer whose id starts with it", async () => {
    const store = new MemoryObjectStore();
    await store.put(entryKey('late', '1'), entry('late', '1', gone));
    await store.put(entryKey('late', '2'), entry('late', '2', other));
    await store.put(entryKey('duplicate', '3'), entry('duplicate', '3', other));
    // An on-failure batch, the only copy of records Lambda gave up on, with both customers in it.
    await store.put(
      failedKey,
      bytes({
        KinesisBatchInfo: { batchSize: 2 },
        payload: { Records: [record(gone, '4'), record(other, '5')] },
      }),
    );

    const result = await eraseSideOutputs({ store, id: gone, unseal });

    expect([...store.objects.keys()].sort()).toEqual(
      [failedKey, entryKey('duplicate', '3'), entryKey('late', '2')].sort(),
    );
    const left = store.json(failedKey) as {
      KinesisBatchInfo: { batchSize: number };
      payload: { Records: { kinesis: { partitionKey: string } }[] };
    };
    expect(left.payload.Records.map((r) => r.kinesis.partitionKey)).toEqual([other]);
    expect(left.KinesisBatchInfo.batchSize).toBe(1);
    expect(result).toMatchObject({
      entriesDeleted: 1,
      batchesRewritten: 1,
      recordsRemoved: 1,
      unhandled: [],
    });
  });

  it('reports an object of an unknown layout only when it shows the id itself', async () => {
    const store = new MemoryObjectStore();
    await store.put('notes/a.txt', new TextEncoder().encode(`about ${other}`));
    await store.put('notes/b.txt', new TextEncoder().encode(`about ${gone}.`));

    const result = await eraseSideOutputs({ store, id: gone });

    expect(result.unhandled).toEqual(['notes/b.txt']);
  });
});
