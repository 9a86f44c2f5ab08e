/**
 * An erasure record is written once, as a new object: a second write of the same request (an SDK
 * retry after a lost response, or a rerun with the same request id) finds it there and leaves it,
 * instead of failing the erasure at its last step (found on review) or overwriting the record.
 */
import { describe, expect, it } from 'vitest';
import { forget } from '../../offline/erasure/forget.js';
import { MemoryObjectStore } from '../support/memory-object-store.js';

describe('erasure records', () => {
  it('writes the record once and lets a rerun of the same request finish', async () => {
    const offline = new MemoryObjectStore();
    const deps = {
      offline,
      sideOutputs: new MemoryObjectStore(),
      online: {
        erase: async (keys: readonly unknown[]) =>
          keys.map(() => ({ itemDeleted: false, idBucketsDeleted: 0 })),
      },
      onlineTable: 't',
      now: () => new Date('2026-11-26T08:00:00Z'),
    };
    const request = { entity: 'customer:cus_0001', requestedBy: 'DPO ticket 1', requestId: 'req-1' };
    const first = await forget(request, deps);
    const stored = offline.objects.get(first.auditKey);
    expect(stored).toBeDefined();

    const again = await forget({ ...request, requestedBy: 'someone else' }, deps);

    expect(again.auditKey).toBe(first.auditKey);
    expect(again.auditRecordExisted).toBe(true);
    expect(first.auditRecordExisted).toBeUndefined();
    expect(offline.objects.get(first.auditKey)).toBe(stored); // the first record stands
    await expect(
      offline.put(first.auditKey, new Uint8Array(), 'application/json', { ifNoneMatch: '*' }),
    ).rejects.toThrow('exists');
  });
});

describe('erasure records of one request', () => {
  const deps = () => ({
    offline: new MemoryObjectStore(),
    sideOutputs: new MemoryObjectStore(),
    online: {
      erase: async (keys: readonly unknown[]) => keys.map(() => ({ itemDeleted: true, idBucketsDeleted: 0 })),
    },
    onlineTable: 't',
    now: () => new Date('2026-11-26T08:00:00Z'),
  });

  it('keeps a record of every entity erased, when one DPO ticket id is given for two customers', async () => {
    // --request-id is free text from the operator; a ticket for a joint account names two customers.
    const d = deps();
    const a = await forget(
      { entity: 'customer:cus_0001', requestedBy: 'DPO 4711', requestId: 'DPO-4711' },
      d,
    );
    const b = await forget(
      { entity: 'customer:cus_0002', requestedBy: 'DPO 4711', requestId: 'DPO-4711' },
      d,
    );
    expect(a.entity.sha256).not.toBe(b.entity.sha256);

    const stored = [...d.offline.objects.entries()]
      .filter(([k]) => k.startsWith('audit/erasure/'))
      .map(([, body]) => JSON.parse(new TextDecoder().decode(body)) as { entity: { sha256: string } });
    // One record each (found on review: the second was taken for a rerun and left unrecorded).
    expect(stored.map((r) => r.entity.sha256).sort()).toEqual([a.entity.sha256, b.entity.sha256].sort());
  });
});
