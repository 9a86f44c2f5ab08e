/**
 * A record whose first delivery saved its customer and merchant, then failed (an offline put), and
 * whose customer is erased (npm run forget) before the redelivery: the customer decides it again, but
 * its merchant, past it and with no hole for it, does not apply it twice. Found on review, with a
 * rule (since replaced by holes) that made every entity apply a record decided "only now".
 */
import { describe, expect, it } from 'vitest';
import { InMemoryOfflineSink } from '../../lambdas/adapters/memory.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import type { OfflineSink } from '../../lambdas/core/ports.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import { type FeatureGroup, featureGroupsByName } from '../../schemas/index.js';
import { BASE_TIME, envelope, inputRecords, transaction } from '../support/records.js';
import { refusingDeps } from '../support/refusing-store.js';

const merchant = featureGroupsByName.get('merchant') as FeatureGroup;

describe(': erasure between deliveries', () => {
  it('the merchant does not apply the redelivered record a second time', async () => {
    let down = true;
    const sink = new InMemoryOfflineSink();
    const offline: OfflineSink = {
      append: async (b) => (down ? b.map(() => ({ failed: new Error('503') })) : sink.append(b)),
    };
    const { inner, deps } = refusingDeps({ offline });
    const records = inputRecords([
      envelope(
        transaction({
          customerId: 'cus_aaaa',
          merchantId: 'mer_2222',
          eventId: 'evt_r3e_1',
          eventTime: new Date(BASE_TIME).toISOString(),
        }),
      ),
    ]) as InputRecord[];
    expect((await processBatch(records, deps)).failed).toHaveLength(1);
    inner.items.delete('customer#cus_aaaa'); // npm run forget --entity customer:cus_aaaa
    expect([...inner.items.keys()]).not.toContain('customer#cus_aaaa');
    down = false;
    expect((await processBatch(records, deps)).failed).toEqual([]);
    const [m] = await inner.load([{ group: 'merchant', entityId: 'mer_2222' }]);
    const n = Number(evaluateWindows(merchant, m?.state.tiles ?? {}, BASE_TIME + 60_000).txn_count_24h);
    expect(n).toBe(1); // 2
  });
});
