/**
 * A record parked whole (its authority refused it) does not stop the other groups' entities from
 * applying the records after it (a park is not a failure). If a failure found later in the batch
 * (an offline put of an earlier record, say) makes it redelivered, no entry is written for it; if its
 * authority takes it on the redelivery (the cause fixed meanwhile), its merchant is already past it.
 * Found on review: the merchant skipped it as "already processed", so it was never applied there,
 * though its merchant history row was written. A record its authority decides only now has been
 * applied by no entity, whatever their checkpoints say: the merchant applies it.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryOfflineSink } from '../../lambdas/adapters/memory.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import type { OfflineSink } from '../../lambdas/core/ports.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { type FeatureGroup, featureGroupsByName } from '../../schemas/index.js';
import { BASE_TIME, envelope, inputRecords, transaction } from '../support/records.js';
import { refusingDeps } from '../support/refusing-store.js';

const customer = featureGroupsByName.get('customer') as FeatureGroup;
const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
const at = (s: number) => new Date(BASE_TIME + s * 1000).toISOString();
const pay = (i: number, customerId: string, merchantId: string) =>
  envelope(
    transaction({ customerId, merchantId, eventId: `evt_mp_${i}_x`, eventTime: at(i), amountMinor: 100 }),
  );

describe('a record parked whole, redelivered after its merchant moved past it', () => {
  it('is applied to its customer and to its merchant, once, when its authority takes it', async () => {
    const sink = new InMemoryOfflineSink();
    let offlineDown = true; // the first delivery's offline put fails (an S3 503)
    const offline: OfflineSink = {
      append: async (b) =>
        offlineDown ? b.map(() => ({ failed: new Error('503 SlowDown') })) : sink.append(b),
    };
    const { refuse, deps, sideOutput, count } = refusingDeps({ offline });
    refuse.add('customer#cus_bbbb');

    // P: cus_bbbb (refused for good) at mer_2222; Q: cus_cccc at mer_2222, after it.
    const [a, p, q] = inputRecords([
      pay(0, 'cus_aaaa', 'mer_1111'),
      pay(1, 'cus_bbbb', 'mer_2222'),
      pay(2, 'cus_cccc', 'mer_2222'),
    ]);
    const d1 = await processBatch([a, p, q] as InputRecord[], deps);
    expect(d1.failed).toHaveLength(3); // redelivered from the first record (offline)
    expect(sideOutput.ofKind('parked')).toHaveLength(0); // P after the failure: no entry
    expect(await count(merchant, 'mer_2222')).toBe(1); // but mer_2222 took Q, past P

    // Redelivery: the offline bucket is back, cus_bbbb is taken (fix deployed meanwhile, or the
    // batch, failed from its first record, was bisected so that cus_bbbb's item fits).
    offlineDown = false;
    refuse.clear();
    const d2 = await processBatch([a, p, q] as InputRecord[], deps);
    expect(d2.failed).toEqual([]);
    expect(d2.outcomes.get((p as InputRecord).recordId)).toBe('applied');
    expect(await count(customer, 'cus_bbbb')).toBe(1);
    // P's merchant history row is written ...
    expect(
      sink
        .rows('merchant')
        .filter((r) => r.entityId === 'mer_2222')
        .map((r) => r.eventId),
    ).toContain('evt_mp_1_x');
    // ... and mer_2222 applied it, though its checkpoint was past it; nothing is left parked.
    expect(await count(merchant, 'mer_2222')).toBe(2);
    expect(sideOutput.ofKind('parked')).toHaveLength(0);
    // Redelivered once more: its decision is read back, and nothing is applied twice.
    await processBatch([a, p, q] as InputRecord[], deps);
    expect(await count(merchant, 'mer_2222')).toBe(2);
    expect(await count(customer, 'cus_bbbb')).toBe(1);
  });
});
