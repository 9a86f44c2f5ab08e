/**
 * A record whose entity write keeps failing for a reason that may pass (throttling, an outage) is
 * retried, until it nears the age at which the event source mapping gives up on it (`parkAfterMs`,
 * an hour under the mapping's maximum record age): then it is parked for the groups it fails in, as
 * one failing for good is, and a redrive finishes it exactly once. Given up instead, it could stay
 * half applied (its customer decided and applied it, its merchant never), which no redrive could
 * finish: the redrive's copy would be a duplicate for the customer, and so for every group.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryOfflineSink, type InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import type { PutResult } from '../../lambdas/core/ports.js';
import { type ProcessorDeps, processBatch } from '../../lambdas/core/process-batch.js';
import { type FeatureGroup, featureGroupsByName } from '../../schemas/index.js';
import { BASE_TIME, envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';
import { redriver } from '../support/redrive-copies.js';
import { refusingDeps } from '../support/refusing-store.js';

const customer = featureGroupsByName.get('customer') as FeatureGroup;
const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
/** The clock of refusingDeps. */
const NOW = BASE_TIME + 60_000;
const HOUR = 3_600_000;
/** An event time `s` seconds after `from`. */
const at = (from: number, s: number) => new Date(from + s * 1000).toISOString();

/**
 * Three payments at mer_2222 (customers a, b, c), one at mer_1111, made a minute before they
 * arrived, `ageMs` before NOW.
 */
const payments = (ageMs: number, tag: string) =>
  inputRecords(
    [
      { customerId: 'cus_aaaa', merchantId: 'mer_2222' },
      { customerId: 'cus_bbbb', merchantId: 'mer_1111' },
      { customerId: 'cus_bbbb', merchantId: 'mer_2222' },
      { customerId: 'cus_cccc', merchantId: 'mer_2222' },
    ].map((p, i) =>
      envelope(
        transaction({ ...p, eventId: `evt_stuck_${tag}_${i}`, eventTime: at(NOW - ageMs - 60_000, i) }),
      ),
    ),
    { arrivalTime: NOW - ageMs },
  );

/**
 * Delivers `records` as the stream did a minute after they arrived: their customers decide them
 * then, under whatever fails. (A record its customer has not decided by the park age is parked whole
 * instead: process-batch.ts step 7.)
 */
const onArrival = (records: readonly InputRecord[], deps: ProcessorDeps) =>
  processBatch(records, { ...deps, now: () => (records[0] as InputRecord).arrivalTime + 60_000 });

const redriveAt = redriver();
/** What npm run redrive sends for every entry now in parked/. */
const redrive = (s: InMemorySideOutput): InputRecord[] => redriveAt(s, NOW);

/** One payment from cus_bbbb at mer_1111, as record `firstSequence` of the shard. */
const otherPayment = (eventId: string, eventTime: number, arrivalTime: number): InputRecord =>
  inputRecords(
    [
      envelope(
        transaction({ customerId: 'cus_bbbb', merchantId: 'mer_1111', eventId, eventTime: at(eventTime, 0) }),
      ),
    ],
    { arrivalTime, firstSequence: FIRST_SEQUENCE + 1_000n },
  )[0] as InputRecord;

/** Records the mapping gave up on, as `npm run redrive` puts them back: the same bytes and keys, new records. */
const resentAsNew = (records: readonly (InputRecord | undefined)[], firstSequence: bigint): InputRecord[] =>
  records.map((r, i) => {
    const sequenceNumber = String(firstSequence + BigInt(i) * 10n);
    return {
      ...(r as InputRecord),
      sequenceNumber,
      recordId: `${r?.shardId}:${sequenceNumber}`,
      arrivalTime: NOW,
    };
  });

describe('a record still failing near the age the mapping gives up at', () => {
  it('is retried while young, then parked for the group that cannot be written, and a redrive finishes it once', async () => {
    // An outage of minutes: the batch fails from the first mer_2222 payment, to be redelivered.
    const fresh = refusingDeps();
    fresh.throttle.add('merchant#mer_2222');
    const young = await processBatch(payments(10 * 60_000, 'y'), { ...fresh.deps, parkAfterMs: 22 * HOUR });
    expect(young.failed).toHaveLength(4);
    expect(young.parked).toBe(0);
    expect(fresh.sideOutput.ofKind('parked')).toEqual([]);

    const s = refusingDeps();
    s.throttle.add('merchant#mer_2222');
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    // The same outage 22 hours on (the mapping would give up on them within the hour): the three
    // mer_2222 payments are parked for the merchant, applied everywhere else; the batch completes.
    const records = payments(22 * HOUR, 'o');
    expect((await onArrival(records, deps)).failed).toHaveLength(4);
    const old = await processBatch(records, deps);
    expect(old.failed).toEqual([]);
    expect(old.parked).toBe(3);
    expect(old.counts).toEqual({ applied: 4, duplicate: 0, quarantined: 0, late: 0 });
    const parked = s.sideOutput.ofKind('parked');
    expect(parked.map((e) => e.recordId).sort()).toEqual(
      [records[0], records[2], records[3]].map((r) => r?.recordId).sort(),
    );
    for (const e of parked) {
      expect(e.groups).toEqual(['merchant']);
      expect(e.reason).toBe(
        'parked: the merchant entity still could not be written when the record was 22 h old (OnlineStoreError), and the stream keeps a record a day',
      );
      expect(e.reason).not.toContain('mer_2222');
    }
    expect(await s.count(merchant, 'mer_2222')).toBe(0);
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
    expect(await s.count(customer, 'cus_bbbb')).toBe(2);

    // Redelivered (a crash before the handler returned): the same, nothing applied twice.
    const again = await processBatch(records, deps);
    expect(again).toMatchObject({ failed: [], parked: 3 });
    expect(await s.count(customer, 'cus_bbbb')).toBe(2);

    // The outage over, the steward redrives: each applied to mer_2222 alone, once.
    s.throttle.clear();
    const copies = redrive(s.sideOutput);
    expect(copies).toHaveLength(3);
    const finished = await processBatch(copies, deps);
    expect(finished.failed).toEqual([]);
    expect(await s.count(merchant, 'mer_2222')).toBe(3);
    expect(await s.count(customer, 'cus_bbbb')).toBe(2);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    expect((await processBatch(copies, deps)).failed).toEqual([]);
    expect(await s.count(merchant, 'mer_2222')).toBe(3);
  });

  it('a customer it cannot write holds back none of the later records of its batch, and by the park age its records are parked whole', async () => {
    // The later records of its batch are applied everywhere meanwhile (their merchants go past the
    // failing one, keeping it as a hole), rows included: given up with it, their redrive copies are
    // duplicates, so they must not wait for it. Still undecided at the park age, its records are
    // parked whole (never decided so late: a failure ahead of them until the maximum age would give
    // them up half applied), and a redrive decides them, as a producer retry of each would be.
    const s = refusingDeps();
    s.throttle.add('customer#cus_bbbb');
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const records = payments(23 * HOUR - 60_000, 'w');
    const result = await onArrival(records, deps);
    expect(result.failed).toEqual(records.slice(1).map((r) => r.sequenceNumber));
    expect(result.parked).toBe(0);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    expect(await s.count(merchant, 'mer_1111')).toBe(0);
    expect(await s.count(merchant, 'mer_2222')).toBe(2);
    expect(await s.count(customer, 'cus_cccc')).toBe(1);
    // Each event once (a redelivery may write a completed record's rows again, under another batch).
    const rowsOf = (group: string) =>
      [...new Set((s.deps.offline as InMemoryOfflineSink).rows(group).map((r) => r.eventId))].sort();
    expect(rowsOf('merchant')).toEqual(['evt_stuck_w_0', 'evt_stuck_w_3']);

    // Redelivered while it still fails: nothing applied twice.
    expect((await onArrival(records, deps)).failed).toHaveLength(3);
    expect(await s.count(merchant, 'mer_2222')).toBe(2);
    expect(await s.count(customer, 'cus_cccc')).toBe(1);

    // 23 hours on, still failing: the two undecided records are parked whole, the batch completes.
    const old = await processBatch(records.slice(1), deps);
    expect(old).toMatchObject({ failed: [], parked: 2 });
    const parked = s.sideOutput.ofKind('parked');
    expect(parked.map((e) => [e.recordId, e.groups])).toEqual([
      [records[1]?.recordId, undefined],
      [records[2]?.recordId, undefined],
    ]);
    expect(parked[0]?.reason).toBe(
      'parked: the record was 22 h old when its customer entity came to decide it, and the stream keeps a record a day: decided so late, a failure before every group applied it could leave it half applied',
    );
    expect(old.parkErrors.map((e) => e.name)).toEqual(['AgedOutError']);

    // The outage over, the steward redrives them: each decided and applied once, everywhere.
    s.throttle.clear();
    expect((await processBatch(redrive(s.sideOutput), deps)).failed).toEqual([]);
    expect(await s.count(customer, 'cus_bbbb')).toBe(2);
    expect(await s.count(customer, 'cus_cccc')).toBe(1);
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
    expect(await s.count(merchant, 'mer_2222')).toBe(3);
    expect(rowsOf('merchant')).toEqual(['evt_stuck_w_0', 'evt_stuck_w_1', 'evt_stuck_w_2', 'evt_stuck_w_3']);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    // The stream replayed (a lost checkpoint): nothing changes.
    expect((await processBatch(records, deps)).failed).toEqual([]);
    expect(await s.count(customer, 'cus_bbbb')).toBe(2);
    expect(await s.count(merchant, 'mer_2222')).toBe(3);

    // Delivered young after all, the cause gone: applied once, by the holes.
    const late = refusingDeps();
    late.throttle.add('customer#cus_bbbb');
    const lateDeps = { ...late.deps, parkAfterMs: 22 * HOUR };
    await onArrival(records, lateDeps);
    late.throttle.clear();
    const redelivered = await onArrival(records.slice(1), lateDeps);
    expect(redelivered.failed).toEqual([]);
    expect(await late.count(merchant, 'mer_1111')).toBe(1);
    expect(await late.count(merchant, 'mer_2222')).toBe(3);
    expect(await late.count(customer, 'cus_cccc')).toBe(1);
  });

  it('a record its customer has not decided by the park age is parked whole, and again by a redelivery after the customer went past it', async () => {
    // Decided that late, a crash, or failures of records ahead of it, until the maximum age would
    // give it up decided by its customer and not applied by its merchant, which no redrive finishes.
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const [old] = payments(22 * HOUR, 'a').slice(1, 2); // cus_bbbb at mer_1111
    // A payment made just after it, that reached the stream 21 hours later (not late for cus_bbbb).
    const young = otherPayment('evt_stuck_a_y', NOW - 22 * HOUR, NOW - HOUR);
    const batch = [old as InputRecord, young];
    const first = await processBatch(batch, deps);
    expect(first).toMatchObject({ failed: [], parked: 1 });
    expect(first.outcomes.get((old as InputRecord).recordId)).toBe('quarantined');
    expect(s.sideOutput.ofKind('parked').map((e) => [e.recordId, e.groups])).toEqual([
      [old?.recordId, undefined],
    ]);
    expect(await s.count(customer, 'cus_bbbb')).toBe(1);
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
    // The customer went past it (the young record): it keeps it as a hole, so that a redelivery
    // (a crash before the handler returned) parks it again instead of taking it for decided.
    const holes = async (group: string, id: string) =>
      Object.keys((await s.inner.load([{ group, entityId: id }]))[0]?.state.holes ?? {});
    expect(await holes('customer', 'cus_bbbb')).toHaveLength(1);
    expect(await processBatch(batch, deps)).toMatchObject({ failed: [], parked: 1 });
    expect(await s.count(customer, 'cus_bbbb')).toBe(1);
    // The redrive decides it once; its holes go; a replay of the stream changes nothing.
    expect((await processBatch(redrive(s.sideOutput), deps)).failed).toEqual([]);
    expect(await s.count(customer, 'cus_bbbb')).toBe(2);
    expect(await s.count(merchant, 'mer_1111')).toBe(2);
    expect(await holes('customer', 'cus_bbbb')).toEqual([]);
    expect(await holes('merchant', 'mer_1111')).toEqual([]);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    expect((await processBatch(batch, deps)).failed).toEqual([]);
    expect(await s.count(customer, 'cus_bbbb')).toBe(2);
    expect(await s.count(merchant, 'mer_1111')).toBe(2);
  });

  it('a record parked whole that its customer went past in a later batch is, delivered again, still parked: not a duplicate', async () => {
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const [old] = payments(22 * HOUR, 'e').slice(1, 2) as [InputRecord]; // cus_bbbb at mer_1111
    expect(await processBatch([old], deps)).toMatchObject({ failed: [], parked: 1 });
    // A producer retry of it, young, later in the shard: its customer takes the event from it.
    const [retry] = resentAsNew([old], FIRST_SEQUENCE + 2_000n) as [InputRecord];
    expect((await processBatch([retry], deps)).counts.applied).toBe(1);
    // The parked record delivered again (the stream replayed): its entry says it is still parked.
    const again = await processBatch([old], deps);
    expect(again.failed).toEqual([]);
    expect(again.outcomes.get(old.recordId)).toBe('quarantined');
    expect(s.sideOutput.ofKind('duplicate')).toEqual([]);
    // Its redrive is the one duplicate of the event.
    expect((await processBatch(redrive(s.sideOutput), deps)).counts.duplicate).toBe(1);
    expect(s.sideOutput.ofKind('duplicate')).toHaveLength(1);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    expect(await s.count(customer, 'cus_bbbb')).toBe(1);
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
  });

  it('a record that applies nothing anywhere (a duplicate) is decided at any age, not parked', async () => {
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const [original] = payments(23 * HOUR, 'u').slice(1, 2) as [InputRecord];
    expect((await onArrival([original], deps)).failed).toEqual([]);
    // A producer retry of it, delivered 22 hours after it reached the stream.
    const [retry] = resentAsNew([original], FIRST_SEQUENCE + 3_000n).map((r) => ({
      ...r,
      arrivalTime: NOW - 22 * HOUR,
    })) as [InputRecord];
    const result = await processBatch([retry], deps);
    expect(result).toMatchObject({ failed: [], parked: 0 });
    expect(result.outcomes.get(retry.recordId)).toBe('duplicate');
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
  });

  it('a redrive copy its customer has not decided by the park age is refused again: its entry stays for the next redrive', async () => {
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const [r] = payments(23 * HOUR, 'v').slice(1, 2) as [InputRecord];
    s.refuse.add('customer#cus_bbbb');
    expect(await onArrival([r], deps)).toMatchObject({ failed: [], parked: 1 });
    s.refuse.clear();
    // The copy sent long ago, delivered only now, 22 hours after its redrive.
    const [old] = redrive(s.sideOutput).map((c) => ({ ...c, arrivalTime: NOW - 22 * HOUR })) as [InputRecord];
    const aged = await processBatch([old], deps);
    expect(aged.failed).toEqual([]);
    expect(aged.outcomes.get(old.recordId)).toBe('duplicate');
    expect(s.sideOutput.ofKind('parked').map((e) => e.recordId)).toEqual([r.recordId]);
    expect(await s.count(customer, 'cus_bbbb')).toBe(0);
    // The next redrive completes it, once.
    expect((await processBatch(redrive(s.sideOutput), deps)).failed).toEqual([]);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    expect(await s.count(customer, 'cus_bbbb')).toBe(1);
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
  });

  it('a record its customer decided before the park age is not parked whole then: read back, it goes on', async () => {
    const s = refusingDeps();
    s.throttle.add('merchant#mer_1111');
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const records = payments(22 * HOUR, 'b').slice(1, 2);
    expect((await processBatch(records, { ...deps, now: () => NOW - HOUR })).failed).toHaveLength(1);
    s.throttle.clear();
    expect(await processBatch(records, deps)).toMatchObject({ failed: [], parked: 0 });
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
    expect(await s.count(customer, 'cus_bbbb')).toBe(1);
  });

  it('a merchant that went past a record as a hole, then had it parked by age, takes it once: the redrive drops the hole', async () => {
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const records = payments(23 * HOUR - 60_000, 'h');
    // cus_bbbb fails: mer_2222 goes past its payment there (a hole) to cus_cccc's.
    s.throttle.add('customer#cus_bbbb');
    expect((await onArrival(records, deps)).failed).toHaveLength(3);
    expect(await s.count(merchant, 'mer_2222')).toBe(2);
    // Redelivered hours later, cus_bbbb decides it, and mer_2222 fails on it; past the park age,
    // still failing, mer_2222 has it parked.
    s.throttle.clear();
    s.throttle.add('merchant#mer_2222');
    const hoursLater = { ...deps, now: () => NOW - 3 * HOUR };
    expect((await processBatch(records.slice(1), hoursLater)).failed).toHaveLength(2);
    expect(await processBatch(records.slice(1), deps)).toMatchObject({ failed: [], parked: 1 });
    s.throttle.clear();
    expect((await processBatch(redrive(s.sideOutput), deps)).failed).toEqual([]);
    expect(await s.count(merchant, 'mer_2222')).toBe(3);
    // The stream replayed (a lost checkpoint): the hole would apply it again.
    expect((await processBatch(records, deps)).failed).toEqual([]);
    expect(await s.count(merchant, 'mer_2222')).toBe(3);
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
  });

  it("keeps a merchant's hole while another shard's batches come days later, and expires it by its own shard's clock", async () => {
    const s = refusingDeps();
    const records = payments(HOUR, 'd');
    s.throttle.add('customer#cus_bbbb');
    await processBatch(records, s.deps);
    expect(await s.count(merchant, 'mer_2222')).toBe(2); // past cus_bbbb's payment there: a hole
    const holes = async () =>
      Object.keys((await s.inner.load([{ group: 'merchant', entityId: 'mer_2222' }]))[0]?.state.holes ?? {});
    expect(await holes()).toHaveLength(1);
    // A shard whose consumer is three days ahead of this one's (its clock, for the processor).
    const other = inputRecords(
      [
        envelope(
          transaction({
            customerId: 'cus_dddd',
            merchantId: 'mer_2222',
            eventId: 'evt_stuck_d_x',
            eventTime: at(NOW, 0),
          }),
        ),
      ],
      { shardId: 'shardId-000000000007', arrivalTime: NOW },
    );
    await processBatch(other, { ...s.deps, now: () => NOW + 72 * HOUR });
    expect(await holes()).toHaveLength(1);
    s.throttle.clear();
    expect((await processBatch(records.slice(1), { ...s.deps, now: () => NOW + HOUR })).failed).toEqual([]);
    expect(await s.count(merchant, 'mer_2222')).toBe(4);
    expect(await holes()).toEqual([]);

    // Given up instead, the hole goes with the first batch of its shard two days on.
    const g = refusingDeps();
    g.throttle.add('customer#cus_bbbb');
    await processBatch(records, g.deps);
    const later = inputRecords(
      [
        envelope(
          transaction({
            customerId: 'cus_eeee',
            merchantId: 'mer_2222',
            eventId: 'evt_stuck_d_y',
            eventTime: at(NOW, 60),
          }),
        ),
      ],
      { firstSequence: FIRST_SEQUENCE + 1_000n, arrivalTime: NOW },
    );
    await processBatch(later, { ...g.deps, now: () => NOW + 49 * HOUR });
    const [m] = await g.inner.load([{ group: 'merchant', entityId: 'mer_2222' }]);
    expect(m?.state.holes).toBeUndefined();
  });

  it('a later record parked for its merchant by age behind a failing customer gets its entry and rows: given up, a redrive finishes it', async () => {
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const records = payments(22 * HOUR + 30 * 60_000, 'p');
    s.throttle.add('customer#cus_aaaa'); // the first record fails at its customer
    s.throttle.add('merchant#mer_1111'); // cus_bbbb's payment there fails at its merchant
    expect((await onArrival(records, deps)).failed).toHaveLength(4);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    // Past the park age, with a young record of cus_aaaa behind them (a payment made seconds after
    // its first, that reached the stream an hour ago): cus_aaaa, failing still, fails the batch from
    // its old record (which it would park whole, undecided), and cus_bbbb's payment at mer_1111 is
    // parked for the merchant.
    const [youngOfAaaa] = inputRecords(
      [
        envelope(
          transaction({
            customerId: 'cus_aaaa',
            merchantId: 'mer_2222',
            eventId: 'evt_stuck_p_y',
            eventTime: at(NOW - 22 * HOUR - 30 * 60_000 - 60_000, 10),
          }),
        ),
      ],
      { arrivalTime: NOW - HOUR, firstSequence: FIRST_SEQUENCE + 500n },
    ) as [InputRecord];
    const first = await processBatch([...records, youngOfAaaa], deps);
    expect(first.failed).toHaveLength(5);
    const parked = s.sideOutput.ofKind('parked');
    expect(parked.map((e) => [e.recordId, e.groups])).toEqual([[records[1]?.recordId, ['merchant']]]);
    // Each event once (a redelivery may write a completed record's rows again, under another batch).
    const rowsOf = (group: string) =>
      [...new Set((s.deps.offline as InMemoryOfflineSink).rows(group).map((r) => r.eventId))].sort();
    expect(rowsOf('customer')).toEqual(['evt_stuck_p_1', 'evt_stuck_p_2', 'evt_stuck_p_3']);
    // Given up at 23 h, but the young record, which the mapping retries at once; the outage over, the
    // steward redrives what was given up, then what was parked.
    s.throttle.clear();
    expect((await processBatch([youngOfAaaa], deps)).failed).toEqual([]);
    const resent = resentAsNew(records, FIRST_SEQUENCE + 1_000n);
    expect((await processBatch(resent, deps)).counts).toEqual({
      applied: 1,
      duplicate: 3,
      quarantined: 0,
      late: 0,
    });
    expect((await processBatch(redrive(s.sideOutput), deps)).failed).toEqual([]);
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
    expect(await s.count(merchant, 'mer_2222')).toBe(4); // the young record's too
    expect(await s.count(customer, 'cus_bbbb')).toBe(2);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    expect(await s.count(customer, 'cus_aaaa')).toBe(2);
  });

  it('a redrive copy its customer decides, behind a record failing for a day, reaches its merchant: given up, the next copy is a duplicate', async () => {
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const [r0] = payments(2 * HOUR, 'c');
    s.refuse.add('customer#cus_aaaa');
    expect(await processBatch([r0 as InputRecord], deps)).toMatchObject({ failed: [], parked: 1 });
    s.refuse.clear();
    // The copy lands behind an ordinary record whose customer is throttled (never parked by age).
    const rx = otherPayment('evt_stuck_c_x', NOW - HOUR, NOW - HOUR);
    const [c0] = redrive(s.sideOutput);
    s.throttle.add('customer#cus_bbbb');
    expect((await processBatch([rx, c0 as InputRecord], deps)).failed).toHaveLength(2);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    // Given up; the steward redrives the given-up records (the copy again, as it was) and the entry.
    s.throttle.clear();
    const resent = resentAsNew([rx, c0], FIRST_SEQUENCE + 5_000n);
    expect((await processBatch(resent, deps)).failed).toEqual([]);
    expect(await s.count(customer, 'cus_aaaa')).toBe(1);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
  });

  it('a copy completing an entry for a group, applied in a batch that fails after it, completes the entry: given up, no redrive applies it again', async () => {
    // The offline bucket refuses one day's partition (say its prefix's policy is wrong) for a day.
    const sink = new InMemoryOfflineSink();
    const badDay = new Date(NOW - 25 * HOUR).toISOString().slice(0, 10);
    const s = refusingDeps({
      offline: {
        append: async (batches) => {
          const ok = await sink.append(batches.filter((b) => b.dt !== badDay));
          return batches.map((b) =>
            b.dt === badDay ? { failed: new Error('AccessDenied') } : (ok.shift() as PutResult),
          );
        },
      },
    });
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const [r0] = payments(2 * HOUR, 'g');
    s.refuse.add('merchant#mer_2222');
    expect(await processBatch([r0 as InputRecord], deps)).toMatchObject({ failed: [], parked: 1 });
    s.refuse.clear();
    // An event of that day first (its rows fail), then the copy, applied to mer_2222 with its rows.
    const rx = otherPayment('evt_stuck_g_x', NOW - 25 * HOUR, NOW - 23 * HOUR);
    expect((await onArrival([rx], deps)).failed).toHaveLength(1);
    const [k0] = redrive(s.sideOutput);
    expect((await processBatch([rx, k0 as InputRecord], deps)).failed).toHaveLength(2);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    // Given up; the steward redrives the given-up records, and whatever is still parked.
    const resent = resentAsNew([rx, k0], FIRST_SEQUENCE + 5_000n);
    await processBatch(resent, deps);
    expect(redrive(s.sideOutput)).toEqual([]);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
  });

  it("keeps the hole of a record parked whole for the stream's retention and a day: a replay two days on, before the redrive, still applies it once", async () => {
    const s = refusingDeps();
    const deps = { ...s.deps, holeTtlMs: (168 + 24) * HOUR }; // prod keeps its stream 168 h
    const records = inputRecords(
      ['cus_aaaa', 'cus_bbbb', 'cus_cccc'].map((customerId, i) =>
        envelope(
          transaction({
            customerId,
            merchantId: 'mer_2222',
            eventId: `evt_stuck_r_${i}`,
            eventTime: at(NOW - 60_000, i),
          }),
        ),
      ),
      { arrivalTime: NOW },
    );
    s.refuse.add('customer#cus_bbbb'); // parked whole; mer_2222 goes past it: a hole
    expect(await processBatch(records, deps)).toMatchObject({ failed: [], parked: 1 });
    // Live traffic of the same shard two days on.
    const later = inputRecords(
      [
        envelope(
          transaction({
            customerId: 'cus_dddd',
            merchantId: 'mer_2222',
            eventId: 'evt_stuck_r_3',
            eventTime: at(NOW, 5),
          }),
        ),
      ],
      { arrivalTime: NOW + 49 * HOUR, firstSequence: FIRST_SEQUENCE + 1_000n },
    );
    await processBatch(later, { ...deps, now: () => NOW + 49 * HOUR });
    // The cause fixed, the mapping re-created from TRIM_HORIZON before the steward redrives.
    s.refuse.clear();
    await processBatch([...records, ...later], { ...deps, now: () => NOW + 50 * HOUR });
    const [copy] = redriveAt(s.sideOutput, NOW + 51 * HOUR);
    await processBatch([copy as InputRecord], { ...deps, now: () => NOW + 51 * HOUR });
    expect(await s.count(customer, 'cus_bbbb')).toBe(1);
    expect(await s.count(merchant, 'mer_2222')).toBe(4);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
  });

  it('a record parked for its merchant by age that a redelivery then writes loses its entry too', async () => {
    const s = refusingDeps();
    s.throttle.add('merchant#mer_2222');
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const records = payments(22 * HOUR, 'z');
    expect((await onArrival(records, deps)).failed).toHaveLength(4);
    expect(await processBatch(records, deps)).toMatchObject({ failed: [], parked: 3 });
    s.throttle.clear();
    const again = await processBatch(records, deps);
    expect(again).toMatchObject({ failed: [], parked: 0 });
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
    expect(await s.count(merchant, 'mer_2222')).toBe(3);
    expect(s.sideOutput.ofKind('duplicate')).toEqual([]);
  });

  it('a copy completing an entry parked for a group is not parked again by age: it fails, and a redelivery completes it', async () => {
    // Found on review: parked again, it was reported a duplicate, and a redelivery that then wrote
    // it reported it applied, leaving the duplicate entry behind.
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const [r0] = inputRecords(
      [
        envelope(
          transaction({
            customerId: 'cus_bbbb',
            merchantId: 'mer_1111',
            eventId: 'evt_stuck_copy_1',
            eventTime: at(NOW - 23 * HOUR, 0),
          }),
        ),
      ],
      { arrivalTime: NOW - 23 * HOUR + 1000 },
    );
    s.refuse.add('merchant#mer_1111');
    expect((await onArrival([r0 as InputRecord], deps)).parked).toBe(1);
    s.refuse.clear();
    s.throttle.add('merchant#mer_1111');
    const copies = redrive(s.sideOutput).map((c) => ({ ...c, arrivalTime: NOW - 22 * HOUR }));
    const refused = await processBatch(copies, deps);
    expect(refused).toMatchObject({ failed: [copies[0]?.sequenceNumber], parked: 0 });
    s.throttle.clear();
    const done = await processBatch(copies, deps);
    expect(done.counts).toEqual({ applied: 1, duplicate: 0, quarantined: 0, late: 0 });
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
    expect(s.sideOutput.ofKind('duplicate')).toEqual([]);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
  });

  it('a copy that completes no entry, parked for its merchant by age, loses that entry when a redelivery writes it', async () => {
    // Found on review: such a copy's own entry stayed, and the next redrive applied it again.
    const s = refusingDeps();
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const [r0] = inputRecords([
      envelope(
        transaction({
          customerId: 'cus_bbbb',
          merchantId: 'mer_1111',
          eventId: 'evt_stuck_copy_2',
          eventTime: at(NOW - 23 * HOUR, 0),
        }),
      ),
    ]);
    s.refuse.add('customer#cus_bbbb');
    expect((await processBatch([r0 as InputRecord], deps)).parked).toBe(1);
    s.refuse.clear();
    const copies = redrive(s.sideOutput).map((c) => ({ ...c, arrivalTime: NOW - 22 * HOUR }));
    s.sideOutput.entries.clear(); // its entry gone: the copy is decided by its authority
    s.throttle.add('merchant#mer_1111');
    // Decided when it arrived (not decided by the park age, a copy is parked whole too).
    expect((await onArrival(copies, deps)).failed).toHaveLength(1);
    expect(await processBatch(copies, deps)).toMatchObject({ failed: [], parked: 1 });
    s.throttle.clear();
    expect((await processBatch(copies, deps)).failed).toEqual([]);
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
  });

  it('parks only the records that old: a younger one of the same entity fails, and the batch from it', async () => {
    const s = refusingDeps();
    s.throttle.add('merchant#mer_2222');
    const deps = { ...s.deps, parkAfterMs: 22 * HOUR };
    const old = payments(22 * HOUR, 'p').slice(0, 2);
    const young = inputRecords(
      [
        envelope(
          transaction({ customerId: 'cus_cccc', merchantId: 'mer_2222', eventTime: at(NOW - HOUR, -5) }),
        ),
      ],
      { arrivalTime: NOW - HOUR, firstSequence: FIRST_SEQUENCE + 1_000n },
    );
    expect((await onArrival(old, deps)).failed).toHaveLength(2);
    const result = await processBatch([...old, ...young], deps);
    expect(result.failed).toEqual([young[0]?.sequenceNumber]);
    expect(result.parked).toBe(1);
    expect(s.sideOutput.ofKind('parked').map((e) => e.recordId)).toEqual([old[0]?.recordId]);
    expect(await s.count(merchant, 'mer_1111')).toBe(1);
  });

  it('without a park age (the default), retries whatever the age', async () => {
    const s = refusingDeps();
    s.throttle.add('merchant#mer_2222');
    const result = await processBatch(payments(30 * HOUR, 'n'), s.deps);
    expect(result.failed).toHaveLength(4);
    expect(result.parked).toBe(0);
  });
});
