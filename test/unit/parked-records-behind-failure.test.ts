/**
 * Redrive copies behind a failure in their batch (found on review of the change that lets later
 * records complete): a copy applied before a record of its own group failed completes its entry and
 * writes its rows (its redelivery, reading the entry completed, writes none); a copy its merchant
 * refuses again narrows the entry it carries and keeps the rows of the groups it reached.
 */
import { describe, expect, it } from 'vitest';
import type { InMemoryOfflineSink, InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { type FeatureGroup, featureGroupsByName } from '../../schemas/index.js';
import { BASE_TIME, envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';
import { redriver } from '../support/redrive-copies.js';
import { refusingDeps } from '../support/refusing-store.js';

const customer = featureGroupsByName.get('customer') as FeatureGroup;
const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
const NOW = BASE_TIME + 60_000;
const HOUR = 3_600_000;
const at = (from: number, s: number) => new Date(from + s * 1000).toISOString();
const redriveAt = redriver();
const redrive = (s: InMemorySideOutput): InputRecord[] => redriveAt(s, NOW);
const pay = (
  customerId: string,
  merchantId: string,
  eventId: string,
  t: number,
  seq: bigint,
  arrival: number,
) =>
  inputRecords([envelope(transaction({ customerId, merchantId, eventId, eventTime: at(t, 0) }))], {
    firstSequence: seq,
    arrivalTime: arrival,
  })[0] as InputRecord;

describe('redrive copies behind a failure in their batch', () => {
  it('a copy of an entry parked whole, refused again by its merchant behind a failure, keeps the rows of the groups it applied to', async () => {
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const r0 = pay('cus_aaaa', 'mer_2222', 'evt_review_a_0', NOW - 2 * HOUR, FIRST_SEQUENCE, NOW - 2 * HOUR);
    s.refuse.add('customer#cus_aaaa');
    expect(await processBatch([r0], deps)).toMatchObject({ failed: [], parked: 1 });
    s.refuse.clear();
    // The copy lands behind a record whose customer is throttled; its merchant now refuses for good.
    const fx = pay('cus_bbbb', 'mer_1111', 'evt_review_a_x', NOW - HOUR, FIRST_SEQUENCE + 1_000n, NOW - HOUR);
    const [c0] = redrive(s.sideOutput);
    s.throttle.add('customer#cus_bbbb');
    s.refuse.add('merchant#mer_2222');
    expect((await processBatch([fx, c0 as InputRecord], deps)).failed).toHaveLength(2);
    const rows = (g: string) =>
      (s.deps.offline as InMemoryOfflineSink)
        .rows(g)
        .map((r) => r.eventId)
        .sort();
    // Redelivered, the throttle gone (merchant still refuses), then the refusal lifted and redriven.
    s.throttle.clear();
    expect((await processBatch([fx, c0 as InputRecord], deps)).failed).toEqual([]);
    s.refuse.clear();
    expect((await processBatch(redrive(s.sideOutput), deps)).failed).toEqual([]);
    expect(await s.count(customer, 'cus_aaaa')).toBe(1);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    expect(rows('merchant')).toContain('evt_review_a_0');
    expect(rows('customer')).toContain('evt_review_a_0');
  });
  it('with two groups besides the authority, a copy behind a failure that one group meets is applied by both or held back by both', async () => {
    // A second merchant-keyed group (as a bank might add a terminal or merchant-category group).
    const other = { ...merchant, name: 'merchant_mirror' } as FeatureGroup;
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR, groupsFedBy: () => [customer, merchant, other] };
    const r0 = pay('cus_aaaa', 'mer_2222', 'evt_review_d_0', NOW - 2 * HOUR, FIRST_SEQUENCE, NOW - 2 * HOUR);
    s.refuse.add('merchant#mer_2222');
    s.refuse.add('merchant_mirror#mer_2222');
    expect(await processBatch([r0], deps)).toMatchObject({ failed: [], parked: 1 });
    s.refuse.clear();
    // The copy lands behind a record whose merchant (the first group) is throttled: that group's
    // failure comes after it applied the copy, before the second group's turn.
    const fx = pay('cus_bbbb', 'mer_1111', 'evt_review_d_x', NOW - HOUR, FIRST_SEQUENCE + 1_000n, NOW - HOUR);
    const [c0] = redrive(s.sideOutput);
    s.throttle.add('merchant#mer_1111');
    expect((await processBatch([fx, c0 as InputRecord], deps)).failed).toHaveLength(2);
    // Given up with its batch (the throttle lasting a day), the entry is redriven again.
    s.throttle.clear();
    expect((await processBatch(redrive(s.sideOutput), deps)).failed).toEqual([]);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    expect(await s.count(other, 'mer_2222')).toBe(1);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
  });

  it('a redrive batch with one copy failing at its merchant writes the merchant rows of the later copies it completes', async () => {
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const rs = inputRecords(
      [
        envelope(
          transaction({
            customerId: 'cus_aaaa',
            merchantId: 'mer_1111',
            eventId: 'evt_review_c_0',
            eventTime: at(NOW - 2 * HOUR, 0),
          }),
        ),
        envelope(
          transaction({
            customerId: 'cus_bbbb',
            merchantId: 'mer_2222',
            eventId: 'evt_review_c_1',
            eventTime: at(NOW - 2 * HOUR, 1),
          }),
        ),
      ],
      { firstSequence: FIRST_SEQUENCE, arrivalTime: NOW - 2 * HOUR },
    );
    s.refuse.add('merchant#mer_1111');
    s.refuse.add('merchant#mer_2222');
    expect(await processBatch(rs, deps)).toMatchObject({ failed: [], parked: 2 });
    s.refuse.clear();
    const copies = redrive(s.sideOutput);
    s.throttle.add('merchant#mer_1111'); // the first copy's merchant is throttled for a moment
    expect((await processBatch(copies, deps)).failed).toHaveLength(2);
    s.throttle.clear();
    expect((await processBatch(copies, deps)).failed).toEqual([]); // redelivered from the first copy
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    const rows = (s.deps.offline as InMemoryOfflineSink)
      .rows('merchant')
      .map((r) => r.eventId)
      .sort();
    expect(rows).toEqual(['evt_review_c_0', 'evt_review_c_1']);
  });
});
