/**
 * A redrive copy of a record parked whole, taken by its customer but refused by its merchant, narrows
 * the entry to the merchant and counts "applied". Its redelivery (answer lost) keeps that outcome:
 * found on review, it completed the narrowed entry anew, was refused again and counted "duplicate".
 */
import { describe, expect, it } from 'vitest';
import type { InputRecord } from '../../lambdas/core/decode.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { type FeatureGroup, featureGroupsByName } from '../../schemas/index.js';
import { BASE_TIME, envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';
import { parkedKeys, redriveCopy } from '../support/redrive-copies.js';
import { refusingDeps } from '../support/refusing-store.js';

/**
 * A payment of cus_aaaa at mer_2222 parked whole (its customer refused), then the customer fixed and
 * its merchant refused: the first redrive copy of the entry, which narrows it to the merchant.
 */
async function narrowingCopy(eventId: string) {
  const ports = refusingDeps();
  const { refuse, deps, sideOutput } = ports;
  const [r] = inputRecords([
    envelope(
      transaction({
        customerId: 'cus_aaaa',
        merchantId: 'mer_2222',
        eventId,
        eventTime: new Date(BASE_TIME).toISOString(),
      }),
    ),
  ]) as InputRecord[];
  refuse.add('customer#cus_aaaa');
  await processBatch([r as InputRecord], deps); // parked whole
  const [key] = parkedKeys(sideOutput) as [string];
  refuse.clear();
  refuse.add('merchant#mer_2222');
  const copy = redriveCopy(sideOutput, key, {
    sequenceNumber: FIRST_SEQUENCE + 1000n,
    arrivalTime: BASE_TIME + 30_000,
  });
  return { ...ports, key, copy };
}

describe(': redelivery of a copy that narrowed its entry', () => {
  it('keeps its outcome (applied) and its entry', async () => {
    const { deps, sideOutput, copy } = await narrowingCopy('evt_r3n_1');
    const d1 = await processBatch([copy], deps);
    expect(d1.outcomes.get(copy.recordId)).toBe('applied');
    expect(sideOutput.ofKind('parked')[0]?.groups).toEqual(['merchant']); // narrowed
    const d2 = await processBatch([copy], deps); // its answer was lost: redelivered
    expect(d2.outcomes.get(copy.recordId)).toBe('applied'); // 'duplicate'
  });

  it('applies to its merchant once when delivered again after the merchant went past it', async () => {
    // Found by the exactly-once property test (an outage of merchants during a redrive): the
    // merchant went past the copy's place in its shard with a later record, took it for applied, and
    // the copy completed the entry: the merchant never had the event.
    const { refuse, deps, sideOutput, count, copy } = await narrowingCopy('evt_r3n_3');
    expect((await processBatch([copy], deps)).outcomes.get(copy.recordId)).toBe('applied');
    refuse.clear();
    const [later] = inputRecords(
      [
        envelope(
          transaction({
            customerId: 'cus_bbbb',
            merchantId: 'mer_2222',
            eventId: 'evt_r3n_3_later',
            eventTime: new Date(BASE_TIME + 20_000).toISOString(),
          }),
        ),
      ],
      { firstSequence: FIRST_SEQUENCE + 1500n, arrivalTime: BASE_TIME + 35_000 },
    ) as [InputRecord];
    expect((await processBatch([later], deps)).failed).toEqual([]);
    const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
    expect(await count(merchant, 'mer_2222')).toBe(1);
    // The copy again (the stream replayed from before it): the entry still names the merchant.
    expect((await processBatch([copy], deps)).failed).toEqual([]);
    expect(await count(merchant, 'mer_2222')).toBe(2);
    expect(sideOutput.ofKind('parked')).toEqual([]);
    expect((await processBatch([copy, later], deps)).failed).toEqual([]);
    expect(await count(merchant, 'mer_2222')).toBe(2);
    expect(await count(featureGroupsByName.get('customer') as FeatureGroup, 'cus_aaaa')).toBe(1);
  });

  it('keeps its outcome when replayed after another copy completed the entry', async () => {
    // Found on review: once completions named their bytes, such a replay was a duplicate of the
    // completing copy (with a duplicate entry), though it had applied the event to its customer.
    const { refuse, deps, sideOutput, count, key, copy: narrowing } = await narrowingCopy('evt_r3n_2');
    expect((await processBatch([narrowing], deps)).outcomes.get(narrowing.recordId)).toBe('applied');
    refuse.clear();
    const completing = redriveCopy(sideOutput, key, {
      sequenceNumber: FIRST_SEQUENCE + 2000n,
      arrivalTime: BASE_TIME + 40_000,
    });
    expect((await processBatch([completing], deps)).outcomes.get(completing.recordId)).toBe('applied');
    expect(sideOutput.ofKind('parked')).toEqual([]);
    const replayed = await processBatch([narrowing], deps);
    expect(replayed.outcomes.get(narrowing.recordId)).toBe('applied');
    expect(sideOutput.ofKind('duplicate')).toEqual([]);
    expect(await count(featureGroupsByName.get('merchant') as FeatureGroup, 'mer_2222')).toBe(1);
    expect(await count(featureGroupsByName.get('customer') as FeatureGroup, 'cus_aaaa')).toBe(1);
  });
});
