/**
 * A record parked for its merchant whose delivery lost its answer, redelivered in the same batch as
 * the redrive copy of its entry (the merchant fixed and redrive run while the shard still retried):
 * the record is applied as a redelivery and takes its group off the entry; the copy completes nothing
 * (found on review: it completed the entry too, and the merchant applied the payment twice).
 */
import { describe, expect, it } from 'vitest';
import type { InputRecord } from '../../lambdas/core/decode.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { type FeatureGroup, featureGroupsByName } from '../../schemas/index.js';
import { BASE_TIME, envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';
import { parkedKeys, redriveCopy } from '../support/redrive-copies.js';
import { refusingDeps } from '../support/refusing-store.js';

const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
const customer = featureGroupsByName.get('customer') as FeatureGroup;

describe(': original redelivered with its completing copy in one batch', () => {
  it('applies the record once to the merchant', async () => {
    const { refuse, deps, sideOutput, count } = refusingDeps();
    const [r] = inputRecords([
      envelope(
        transaction({
          customerId: 'cus_aaaa',
          merchantId: 'mer_2222',
          eventId: 'evt_r3s_1',
          eventTime: new Date(BASE_TIME).toISOString(),
        }),
      ),
    ]) as InputRecord[];
    refuse.add('merchant#mer_2222');
    const d1 = await processBatch([r as InputRecord], deps); // parked for merchant; answer lost
    expect(d1.failed).toEqual([]);
    const [key] = parkedKeys(sideOutput) as [string];
    refuse.clear(); // merchant fixed, redrive run: its copy lands on the same shard
    const copy = redriveCopy(sideOutput, key, {
      sequenceNumber: FIRST_SEQUENCE + 1000n,
      arrivalTime: BASE_TIME + 120_000,
    });
    const d2 = await processBatch([r as InputRecord, copy], deps); // the retry, now with the copy
    expect(d2.failed).toEqual([]);
    expect(await count(customer, 'cus_aaaa')).toBe(1);
    expect(await count(merchant, 'mer_2222')).toBe(1); // 2
  });
});
