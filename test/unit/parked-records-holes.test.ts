/**
 * Holes: an entity that goes past a record its authority parked whole in that delivery keeps the
 * record as a hole, and applies it when it is delivered again and taken by its authority, in any
 * later delivery (found on review: a rule that knew this for one delivery only lost the record on the
 * merchant when that delivery did not save the merchant), and parks it for itself if it refuses it.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryOfflineSink } from '../../lambdas/adapters/memory.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import type { OfflineSink } from '../../lambdas/core/ports.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { type FeatureGroup, featureGroupsByName } from '../../schemas/index.js';
import { faultyDeps, InjectedCrash } from '../support/fault-stores.js';
import { BASE_TIME, envelope, inputRecords, transaction } from '../support/records.js';
import { refusingDeps } from '../support/refusing-store.js';

const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
const at = (s: number) => new Date(BASE_TIME + s * 1000).toISOString();
const pay = (i: number, customerId: string, merchantId: string) =>
  envelope(
    transaction({ customerId, merchantId, eventId: `evt_r3f_${i}`, eventTime: at(i), amountMinor: 100 }),
  );

function setup() {
  const ctl = { offlineDown: true };
  const sink = new InMemoryOfflineSink();
  const offline: OfflineSink = {
    append: async (b) => (ctl.offlineDown ? b.map(() => ({ failed: new Error('503') })) : sink.append(b)),
  };
  const { refuse, throttle, deps, sideOutput, count: countOf } = refusingDeps({ offline });
  const count = (id: string) => countOf(merchant, id);
  // P (cus_bbbb, refused at first) between A and Q, all at mer_2222.
  const records = inputRecords([
    pay(0, 'cus_aaaa', 'mer_2222'),
    pay(1, 'cus_bbbb', 'mer_2222'),
    pay(2, 'cus_cccc', 'mer_2222'),
  ]) as InputRecord[];
  return { deps, refuse, throttle, ctl, sideOutput, count, records };
}

describe(': a record decided fresh loses its freshness with the delivery that decided it', () => {
  it('merchant write throttled in the delivery its customer takes it: a later delivery applies it to the merchant (its hole)', async () => {
    const { deps, refuse, throttle, ctl, sideOutput, count, records } = setup();
    refuse.add('customer#cus_bbbb');
    const d1 = await processBatch(records, deps); // offline down: all redelivered; mer_2222 past P
    expect(d1.failed).toHaveLength(3);
    expect(await count('mer_2222')).toBe(2);

    refuse.clear(); // cus_bbbb taken now: P decided fresh
    throttle.add('merchant#mer_2222'); // ... but the merchant write is throttled this time
    ctl.offlineDown = false;
    const d2 = await processBatch(records, deps);
    expect(d2.failed.length).toBeGreaterThan(0);

    throttle.clear();
    const d3 = await processBatch(records, deps);
    expect(d3.failed).toEqual([]);
    expect(d3.outcomes.get(records[1]?.recordId as string)).toBe('applied');
    expect(sideOutput.ofKind('parked')).toHaveLength(0);
    // P was never applied to mer_2222 (3 expected), and nothing records that.
    expect(await count('mer_2222')).toBe(3);
  });

  it('a crash right after its customer saved it: the merchant applies it in the next delivery', async () => {
    const { deps, refuse, ctl, count, records } = setup();
    refuse.add('customer#cus_bbbb');
    await processBatch(records, deps);
    refuse.clear();
    ctl.offlineDown = false;
    // Phase A saves the three customers in one call (only cus_bbbb changes): crash after it.
    await expect(processBatch(records, faultyDeps(deps, { crashAfterEntityWrites: 1 }))).rejects.toThrow(
      InjectedCrash,
    );
    const d3 = await processBatch(records, deps);
    expect(d3.failed).toEqual([]);
    expect(await count('mer_2222')).toBe(3); // 2
  });

  it('merchant refused for good when its customer takes it: it is parked for the merchant', async () => {
    const { deps, refuse, ctl, sideOutput, count, records } = setup();
    refuse.add('customer#cus_bbbb');
    await processBatch(records, deps);
    refuse.clear();
    refuse.add('merchant#mer_2222');
    ctl.offlineDown = false;
    const d2 = await processBatch(records, deps);
    expect(d2.failed).toEqual([]);
    expect(await count('mer_2222')).toBe(2);
    // P was applied to no merchant and is parked nowhere (outcome "applied").
    expect(d2.outcomes.get(records[1]?.recordId as string)).toBe('applied');
    expect(sideOutput.ofKind('parked').map((e) => e.recordId)).toContain(records[1]?.recordId);
  });
});
