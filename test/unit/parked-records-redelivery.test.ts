/**
 * Parked records across redeliveries (found on review of the first version of parking, each of
 * these applied a record twice or lost it): an entity refused for good parks only the records it has
 * not processed yet; a parked entry is written only for a record that completes; a redrive refused
 * by some of its groups narrows its entry to them. And what a producer cannot do with a redrive
 * envelope, and what a backfill does with a refusal.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryOfflineSink, type InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import { decodeRecord, type InputRecord } from '../../lambdas/core/decode.js';
import type { OfflineSink } from '../../lambdas/core/ports.js';
import { type ProcessorDeps, processBatch } from '../../lambdas/core/process-batch.js';
import { backfill } from '../../offline/backfill/backfill.js';
import { contracts, type FeatureGroup, featureGroupsByName, groupsFedBy } from '../../schemas/index.js';
import { transaction as transactionContract } from '../../schemas/transaction.contract.js';
import { faultyDeps, InjectedCrash } from '../support/fault-stores.js';
import { MemoryObjectStore } from '../support/memory-object-store.js';
import { objectOf, offlineBatchesOf } from '../support/offline-fixtures.js';
import { BASE_TIME, envelope, inputRecords, transaction } from '../support/records.js';
import { redriveCopies } from '../support/redrive-copies.js';
import { refusingDeps } from '../support/refusing-store.js';

const customer = featureGroupsByName.get('customer') as FeatureGroup;
const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
const at = (s: number) => new Date(BASE_TIME + s * 1000).toISOString();
const pay = (i: number, customerId: string, merchantId: string) =>
  envelope(
    transaction({ customerId, merchantId, eventId: `evt_rv_${i}`, eventTime: at(i), amountMinor: 100 }),
  );

/**
 * In-memory stores with switches: `refuse` (a permanent failure: DynamoDB's ValidationException, as
 * for an item past 400 KB) and `throttle` (a failure a retry may not meet) per item key; `offlineDown`
 * fails every offline append (an S3 outage of the offline bucket).
 */
function setup() {
  const ctl = { offlineDown: false };
  const sink = new InMemoryOfflineSink();
  const offline: OfflineSink = {
    append: async (batches) =>
      ctl.offlineDown
        ? batches.map(() => ({ failed: new Error('offline bucket down') }))
        : sink.append(batches),
  };
  const { refuse, throttle, deps, sideOutput, count } = refusingDeps({ offline });
  return { deps, refuse, throttle, ctl, sideOutput, sink, count };
}

/** What `npm run redrive` sends for each parked entry, numbered from `first`. */
const redriven = (sideOutput: InMemorySideOutput, first: bigint): InputRecord[] =>
  redriveCopies(sideOutput, { firstSequence: first, arrivalTime: BASE_TIME + 3_600_000 });

describe('an entity refused for good parks only the records it has not processed', () => {
  it('a customer that decided a record before a later write failed, then is refused: that record goes on, the new one is parked', async () => {
    const s = setup();
    const [r0, r1] = inputRecords([pay(0, 'cus_aaaa', 'mer_1111'), pay(1, 'cus_bbbb', 'mer_1111')]);
    // Delivery 1: customer entities save their decisions; the merchant write is throttled.
    s.throttle.add('merchant#mer_1111');
    const d1 = await processBatch([r0, r1] as InputRecord[], s.deps);
    expect(d1.failed).toHaveLength(2);
    // Redelivery from r0, with one more record of cus_bbbb that makes its item too large.
    s.throttle.clear();
    s.refuse.add('customer#cus_bbbb');
    const [r2] = inputRecords([pay(2, 'cus_bbbb', 'mer_2222')], {
      firstSequence: BigInt((r1 as InputRecord).sequenceNumber) + 10n,
    });
    const d2 = await processBatch([r0, r1, r2] as InputRecord[], s.deps);
    expect(d2.failed).toEqual([]);
    // r1, decided and applied by cus_bbbb in delivery 1, goes on (its decision read back); r2 is parked.
    const parked = [...s.sideOutput.entries.values()].filter((e) => e.kind === 'parked');
    expect(parked.map((e) => e.recordId)).toEqual([r2?.recordId]);
    expect(d2.outcomes.get(r1?.recordId as string)).toBe('applied');
    expect(await s.count(merchant, 'mer_1111')).toBe(2);
    expect(s.sink.events('transaction').map((r) => r.event_id)).toContain('evt_rv_1');
    // Cause fixed, npm run redrive: r2 applied, once, everywhere.
    s.refuse.clear();
    const copies = redriven(s.sideOutput, 49_700_000_000_000_000_000_000_000_000_000_000_000_000_000n);
    const d3 = await processBatch(copies, s.deps);
    expect(d3.counts.applied).toBe(1);
    expect(await s.count(customer, 'cus_bbbb')).toBe(2);
    expect(await s.count(merchant, 'mer_1111')).toBe(2);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
  });

  it('a merchant that applied a record before the offline put failed, then is refused: that record is not parked for it', async () => {
    const s = setup();
    const [r0] = inputRecords([pay(0, 'cus_aaaa', 'mer_2222')]);
    s.ctl.offlineDown = true; // delivery 1: every entity saved, the offline bucket refuses
    const d1 = await processBatch([r0] as InputRecord[], s.deps);
    expect(d1.failed).toHaveLength(1);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    s.ctl.offlineDown = false;
    // Redelivered with one more record for mer_2222, whose item is now refused.
    s.refuse.add('merchant#mer_2222');
    const [r1] = inputRecords([pay(1, 'cus_cccc', 'mer_2222')], {
      firstSequence: BigInt((r0 as InputRecord).sequenceNumber) + 10n,
    });
    const d2 = await processBatch([r0, r1] as InputRecord[], s.deps);
    expect(d2.failed).toEqual([]);
    const parked = [...s.sideOutput.entries.values()].filter((e) => e.kind === 'parked');
    expect(parked.map((e) => [e.recordId, e.groups])).toEqual([[r1?.recordId, ['merchant']]]);
    expect(s.sink.rows('merchant').map((r) => r.eventId)).toEqual(['evt_rv_0']);
    s.refuse.clear();
    await processBatch(
      redriven(s.sideOutput, 49_700_000_000_000_000_000_000_000_000_000_000_000_000_000n),
      s.deps,
    );
    expect(await s.count(merchant, 'mer_2222')).toBe(2);
    expect(
      s.sink
        .rows('merchant')
        .map((r) => r.eventId)
        .sort(),
    ).toEqual(['evt_rv_0', 'evt_rv_1']);
  });
});

describe('a parked entry is written only for a record that completes', () => {
  it('parked, but the batch failed before it (the offline put): no entry, and the redelivery that applies it leaves nothing to redrive', async () => {
    const s = setup();
    const [r0] = inputRecords([pay(0, 'cus_aaaa', 'mer_2222')]);
    s.refuse.add('merchant#mer_2222');
    s.ctl.offlineDown = true;
    const d1 = await processBatch([r0] as InputRecord[], s.deps);
    expect(d1.failed).toHaveLength(1); // redelivered, so no entry
    expect([...s.sideOutput.entries.values()].filter((e) => e.kind === 'parked')).toHaveLength(0);
    // The cause goes away while the batch is retried (a fix deployed, the item pruned), the offline bucket is back.
    s.refuse.clear();
    s.ctl.offlineDown = false;
    const d2 = await processBatch([r0] as InputRecord[], s.deps);
    expect(d2.failed).toEqual([]);
    expect(d2.parked).toBe(0);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    expect(redriven(s.sideOutput, 49_700_000_000_000_000_000_000_000_000_000_000_000_000_000n)).toEqual([]);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
  });
});

describe("a redrive that some of its entry's groups still refuse", () => {
  it('narrows the entry to them: the next redrive applies it to those alone (two groups besides the customer)', async () => {
    const s = setup();
    // A second group keyed by merchant (a copy of merchant's definition under another name).
    const merchantB = { ...merchant, name: 'merchant_b' } as FeatureGroup;
    s.deps = { ...s.deps, groupsFedBy: (c: string) => [...groupsFedBy(c), merchantB] } as ProcessorDeps;
    const deps = s.deps;
    const [r0] = inputRecords([pay(0, 'cus_aaaa', 'mer_2222')]);
    s.refuse.add('merchant#mer_2222');
    s.refuse.add('merchant_b#mer_2222');
    await processBatch([r0] as InputRecord[], deps);
    const entry = [...s.sideOutput.entries.values()].find((e) => e.kind === 'parked');
    expect(entry?.groups).toEqual(['merchant', 'merchant_b']);
    // merchant fixed, merchant_b still refused: redrive.
    s.refuse.delete('merchant#mer_2222');
    const first = redriven(s.sideOutput, 49_700_000_000_000_000_000_000_000_000_000_000_000_000_000n);
    await processBatch(first, deps);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    expect([...s.sideOutput.entries.values()].find((e) => e.kind === 'parked')?.groups).toEqual([
      'merchant_b',
    ]);
    // merchant_b fixed: redrive again.
    s.refuse.clear();
    await processBatch(
      redriven(s.sideOutput, 49_800_000_000_000_000_000_000_000_000_000_000_000_000_000n),
      deps,
    );
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    expect(await s.count(merchantB, 'mer_2222')).toBe(1);
    expect([...s.sideOutput.entries.values()].filter((e) => e.kind === 'parked')).toEqual([]);
  });
});

describe('what a redrive envelope does not allow', () => {
  it('a key that is not one a parked entry has (a producer forging one S3 would refuse) is quarantined, never retried', () => {
    const inner = envelope(transaction({ customerId: 'cus_evil', merchantId: 'mer_0001' }));
    for (const parked of [
      `parked/${'é'.repeat(1000)}.json`,
      'parked/x.json',
      '../parked/dt=2026-01-01/s/1.json',
    ]) {
      const forged = JSON.stringify({ redrive: { parked }, data: Buffer.from(inner).toString('base64') });
      const [record] = inputRecords([forged]);
      const decoded = decodeRecord({ ...(record as InputRecord), partitionKey: 'cus_evil' }, contracts);
      expect(decoded.ok, parked.slice(0, 20)).toBe(false);
      expect(decoded.ok ? '' : decoded.reason).toMatch(/^not a redrive envelope/);
    }
  });
});

describe('a backfill meeting an entity refused for good', () => {
  it('stops, naming the refusal, rather than parking where nothing would keep it', async () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    const batches = await offlineBatchesOf([
      {
        event: { customerId: 'cus_bf01', merchantId: 'mer_bf01', eventTime: iso(BASE_TIME) },
        arrival: BASE_TIME + 1000,
      },
      {
        event: { customerId: 'cus_bf02', merchantId: 'mer_bf01', eventTime: iso(BASE_TIME + 1000) },
        arrival: BASE_TIME + 2000,
      },
    ]);
    const raw = new MemoryObjectStore();
    for (const b of batches) {
      const { key, body } = objectOf(b);
      raw.objects.set(key, body);
    }
    const s = setup();
    s.refuse.add('customer#cus_bf02');
    const day = iso(BASE_TIME).slice(0, 10);
    await expect(
      backfill(
        { contract: transactionContract, from: day, to: day },
        { rawEvents: raw, entities: s.deps.entities },
      ),
    ).rejects.toThrow(/1 event\(s\) refused for good by an entity/);
  });
});

describe('writing parked entries', () => {
  it("a redelivery whose entry write fails deletes nothing: a later record's entry from the delivery that completed it stays", async () => {
    const s = setup();
    s.refuse.add('customer#cus_bbbb');
    const records = inputRecords([pay(0, 'cus_bbbb', 'mer_1111'), pay(1, 'cus_bbbb', 'mer_1111')]);
    expect((await processBatch(records, s.deps)).parked).toBe(2);
    // Delivered again (a lost response): the first entry's rewrite fails, so that record and the
    // next are redelivered; neither entry may go (found by the property tests: the second was deleted).
    const again = await processBatch(records, faultyDeps(s.deps, { failSidePuts: [0] }));
    expect(again.failed).toHaveLength(2);
    expect([...s.sideOutput.entries.values()].filter((e) => e.kind === 'parked')).toHaveLength(2);
  });
});

describe('an entry whose record a redelivery applies', () => {
  it('loses the group that applied it (found by the property tests: parked, answer lost, fix deployed, redelivered)', async () => {
    const s = setup();
    s.refuse.add('merchant#mer_2222');
    const records = inputRecords([pay(0, 'cus_aaaa', 'mer_2222')]);
    // Parked for the merchant, its entry written, then the answer is lost (a timeout): redelivered.
    expect((await processBatch(records, s.deps)).parked).toBe(1);
    expect([...s.sideOutput.entries.values()].filter((e) => e.kind === 'parked')).toHaveLength(1);
    // A fix deployed meanwhile: the redelivery applies it to the merchant, so the entry goes.
    s.refuse.clear();
    const again = await processBatch(records, s.deps);
    expect(again.failed).toEqual([]);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    expect([...s.sideOutput.entries.values()].filter((e) => e.kind === 'parked')).toEqual([]);
    // A redrive has nothing to apply a second time.
    expect(redriven(s.sideOutput, 49_700_000_000_000_000_000_000_000_000_000_000_000_000_000n)).toEqual([]);
  });

  it('loses it before the entity is saved: a crash after that save leaves no entry behind (found by the property tests)', async () => {
    const s = setup();
    s.refuse.add('merchant#mer_2222');
    const records = inputRecords([pay(0, 'cus_aaaa', 'mer_2222')]);
    expect((await processBatch(records, s.deps)).parked).toBe(1);
    s.refuse.clear();
    // Redelivered (its answer lost); the merchant takes it, then the invocation dies after the offline put.
    await expect(processBatch(records, faultyDeps(s.deps, { crashAfterOfflinePuts: 1 }))).rejects.toThrow(
      InjectedCrash,
    );
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
    expect([...s.sideOutput.entries.values()].filter((e) => e.kind === 'parked')).toEqual([]);
    await processBatch(records, s.deps);
    expect(await s.count(merchant, 'mer_2222')).toBe(1);
  });
});
