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
    expect(offline.objects.get(first.auditKey)).toBe(stored); // the first record stands
    await expect(
      offline.put(first.auditKey, new Uint8Array(), 'application/json', { ifNoneMatch: '*' }),
    ).rejects.toThrow('exists');
  });
});
