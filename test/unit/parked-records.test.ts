/**
 * A record an entity can never take is parked, not failed (process-batch.ts, step 7). Failed, it
 * would be redelivered, and since the mapping retries until the record's maximum age, it would hold
 * up its shard for a day before being given up half applied. Parked, the rest of the batch goes on,
 * nothing of the record is lost (its payload and reason are in `parked/`), and what was applied of it
 * is exactly what the entry says: nothing (an authority entity refused), or all but `groups`.
 * Through the real DynamoDB adapter, against a table that refuses chosen items with DynamoDB's
 * ValidationException.
 */
import { describe, expect, it } from 'vitest';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import { decodeTiles } from '../../lambdas/adapters/entity-item-codec.js';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import type { EntityStore, SideOutputEntry } from '../../lambdas/core/ports.js';
import { type ProcessorDeps, processBatch } from '../../lambdas/core/process-batch.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import { completionEnvelope } from '../../offline/redrive/redrive.js';
import { contracts, type FeatureGroup, featureGroupsByName, groupsFedBy } from '../../schemas/index.js';
import { fakeTable } from '../support/fake-dynamodb-table.js';
import { BASE_TIME, envelope, inputRecords, transaction } from '../support/records.js';
import { parkedKeys } from '../support/redrive-copies.js';

const customer = featureGroupsByName.get('customer') as FeatureGroup;
const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
const at = (s: number) => new Date(BASE_TIME + s * 1000).toISOString();

/** Six payments: customers aaaa, bbbb (poisoned in one test) and c, at merchants m1 and m2. */
const payments = () =>
  [
    { customerId: 'cus_aaaa', merchantId: 'mer_1111' },
    { customerId: 'cus_bbbb', merchantId: 'mer_1111' },
    { customerId: 'cus_cccc', merchantId: 'mer_2222' },
    { customerId: 'cus_bbbb', merchantId: 'mer_2222' },
    { customerId: 'cus_aaaa', merchantId: 'mer_2222' },
    { customerId: 'cus_cccc', merchantId: 'mer_1111' },
  ].map((p, i) =>
    envelope(transaction({ ...p, eventId: `evt_park_${i}`, eventTime: at(i), amountMinor: 100 })),
  );

function setup(refused: Set<string>) {
  const table = fakeTable({ refuse: (pk) => refused.has(pk) });
  const sideOutput = new InMemorySideOutput();
  const offline = new InMemoryOfflineSink();
  const deps: ProcessorDeps = {
    contracts,
    groupsFedBy,
    entities: new DynamoDbEntityStore({ tableName: 'online', client: table.client }),
    offline,
    sideOutput,
    sleep: async () => {},
    now: () => BASE_TIME + 60_000,
  };
  const count = (pk: string) => {
    const item = table.items.get(pk);
    if (!item) return 0;
    const group = pk.startsWith('customer#') ? customer : merchant;
    const windows = evaluateWindows(group, decodeTiles(item.tl as string).tiles, BASE_TIME + 60_000);
    return Number(windows.txn_count_24h ?? 0);
  };
  return { table, deps, sideOutput, offline, count };
}

describe('parked records', () => {
  it('an authority entity DynamoDB refuses: its records are parked whole, the batch completes, nothing of them is applied', async () => {
    const refused = new Set(['customer#cus_bbbb']);
    const { table, deps, sideOutput, offline, count } = setup(refused);
    try {
      const records = inputRecords(payments());
      const result = await processBatch(records, deps);
      expect(result.failed).toEqual([]);
      expect(result.parked).toBe(2);
      expect(result.counts).toEqual({ applied: 4, duplicate: 0, quarantined: 2, late: 0 });
      const parked = sideOutput.ofKind('parked');
      expect(parked.map((e) => e.recordId).sort()).toEqual(
        [records[1]?.recordId, records[3]?.recordId].sort(),
      );
      for (const e of parked) {
        expect(e.outcome).toBe('quarantined');
        expect(e.groups).toBeUndefined();
        expect(e.reason).toMatch(/^parked: the customer entity cannot be written \(ValidationException: /);
        expect(e.reason).not.toContain('cus_bbbb');
        expect(records.some((r) => r.data === e.data)).toBe(true);
      }
      // Nothing of cus_bbbb's payments anywhere: not its item, not the merchants', not the offline rows.
      expect(table.items.has('customer#cus_bbbb')).toBe(false);
      expect([count('customer#cus_aaaa'), count('customer#cus_cccc')]).toEqual([2, 2]);
      expect([count('merchant#mer_1111'), count('merchant#mer_2222')]).toEqual([2, 2]);
      const eventIds = offline.events('transaction').map((r) => r.event_id);
      expect(eventIds.sort()).toEqual(['evt_park_0', 'evt_park_2', 'evt_park_4', 'evt_park_5']);
      expect(offline.rows('merchant').map((r) => r.eventId)).not.toContain('evt_park_1');

      // Redelivered (a crash before the handler returned): parked again, under the same entries; the
      // others' outcomes are read back, applied once.
      const again = await processBatch(records, deps);
      expect(again.counts).toEqual({ applied: 4, duplicate: 0, quarantined: 2, late: 0 });
      expect(sideOutput.ofKind('parked')).toHaveLength(2);
      expect([count('merchant#mer_1111'), count('merchant#mer_2222')]).toEqual([2, 2]);
    } finally {
      table.ddb.restore();
    }
  });

  it('another group entity DynamoDB refuses: its records are parked for that group only, applied everywhere else', async () => {
    const refused = new Set(['merchant#mer_2222']);
    const { table, deps, sideOutput, offline, count } = setup(refused);
    try {
      const records = inputRecords(payments());
      const result = await processBatch(records, deps);
      expect(result.failed).toEqual([]);
      expect(result.parked).toBe(3);
      expect(result.counts).toEqual({ applied: 6, duplicate: 0, quarantined: 0, late: 0 });
      const parked = sideOutput.ofKind('parked');
      expect(parked.map((e) => e.recordId).sort()).toEqual(
        [records[2], records[3], records[4]].map((r) => r?.recordId).sort(),
      );
      for (const e of parked) {
        expect(e.outcome).toBe('applied');
        expect(e.groups).toEqual(['merchant']);
        expect(e.reason).toMatch(/^parked: the merchant entity cannot be written \(ValidationException: /);
      }
      expect([count('customer#cus_aaaa'), count('customer#cus_bbbb'), count('customer#cus_cccc')]).toEqual([
        2, 2, 2,
      ]);
      expect(count('merchant#mer_1111')).toBe(3);
      expect(table.items.has('merchant#mer_2222')).toBe(false);
      // Feature history: every customer row and raw event; merchant rows only where the merchant took it.
      expect(offline.rows('customer')).toHaveLength(6);
      expect(offline.events('transaction')).toHaveLength(6);
      expect(
        offline
          .rows('merchant')
          .map((r) => r.eventId)
          .sort(),
      ).toEqual(['evt_park_0', 'evt_park_1', 'evt_park_5']);
    } finally {
      table.ddb.restore();
    }
  });

  it('an entity whose computation throws (a defect met by its data) is parked the same way', async () => {
    const inner = new InMemoryEntityStore();
    // cus_bbbb's stored state is one the code cannot handle: its tiles are missing.
    const store: EntityStore = {
      load: async (keys, o) => {
        const loaded = await inner.load(keys, o);
        return loaded.map((s, i) =>
          keys[i]?.entityId === 'cus_bbbb' && s
            ? { ...s, state: { ...s.state, tiles: undefined as never } }
            : s,
        );
      },
      save: (writes) => inner.save(writes),
    };
    const deps: ProcessorDeps = {
      contracts,
      groupsFedBy,
      entities: store,
      offline: new InMemoryOfflineSink(),
      sideOutput: new InMemorySideOutput(),
      sleep: async () => {},
      now: () => BASE_TIME + 60_000,
    };
    await processBatch(inputRecords([payments()[1] as string]), deps); // cus_bbbb exists
    const records = inputRecords(payments(), {
      firstSequence: 49_700_000_000_000_000_000_000_000_000_000_000_000_000_000n,
    });
    const result = await processBatch(records, deps);
    expect(result.failed).toEqual([]);
    expect(result.counts.quarantined).toBe(2);
    const parked = (deps.sideOutput as InMemorySideOutput).ofKind('parked');
    expect(parked).toHaveLength(2);
    // The kind of error only: a defect's message may quote the data it failed on.
    expect(parked[0]?.reason).toBe(
      "parked: the customer entity cannot be written (TypeError in the processor's computation)",
    );
  });

  it('a failure that may pass at a retry (throttling) still fails the records, to be redelivered', async () => {
    const inner = new InMemoryEntityStore();
    const store: EntityStore = {
      load: (keys, o) => inner.load(keys, o),
      save: async (writes) =>
        writes.map((w) =>
          w.key.entityId === 'cus_bbbb'
            ? { failed: new Error('ProvisionedThroughputExceededException') }
            : 'saved',
        ),
    };
    const result = await processBatch(inputRecords(payments()), {
      contracts,
      groupsFedBy,
      entities: store,
      offline: new InMemoryOfflineSink(),
      sideOutput: new InMemorySideOutput(),
      sleep: async () => {},
    });
    expect(result.parked).toBe(0);
    expect(result.failed.length).toBe(5); // from cus_bbbb's first record on
  });
});

describe('redriving parked records', () => {
  /** The records parked for mer_2222 (refused), then the cause fixed. */
  async function parkedForMerchant() {
    const refused = new Set(['merchant#mer_2222']);
    const s = setup(refused);
    const records = inputRecords(payments());
    await processBatch(records, s.deps);
    refused.clear();
    const keys = parkedKeys(s.sideOutput);
    // What each entry holds, kept for copies made after the processor has completed it.
    const held = new Map(keys.map((k) => [k, s.sideOutput.entries.get(k) as SideOutputEntry]));
    const copy = (key: string, data = held.get(key)?.data as string) =>
      Buffer.from(completionEnvelope(key, Buffer.from(data, 'base64'))).toString('base64');
    const customerOf = (key: string) => held.get(key)?.partitionKey as string;
    /** A copy of each of these entries put into the stream after the original batch, keyed by its customer. */
    const resend = (entries: readonly string[], first?: bigint) =>
      later(
        entries.map((k) => copy(k)),
        first,
      ).map((r, i) => ({ ...r, partitionKey: customerOf(entries[i] as string) }));
    return { ...s, refused, records, keys, copy, customerOf, resend };
  }
  /** Records put into the stream after the original batch, keyed by the customer of their payload. */
  const later = (
    datas: readonly string[],
    first = 49_700_000_000_000_000_000_000_000_000_000_000_000_000_000n,
  ) =>
    inputRecords(
      datas.map((d) => Buffer.from(d, 'base64').toString('utf8')),
      { firstSequence: first, arrivalTime: BASE_TIME + 120_000 },
    ).map((r, i) => ({ ...r, data: datas[i] as string }));

  it('a record parked for a group is applied to that group alone, once, by the first copy of its entry', async () => {
    const s = await parkedForMerchant();
    try {
      expect(s.keys).toHaveLength(3);
      // One copy of each entry, and a second copy of the first (a redrive run twice).
      const copies = s.resend([...s.keys, s.keys[0] as string]);
      const result = await processBatch(copies, s.deps);
      expect(result.failed).toEqual([]);
      expect(result.counts).toEqual({ applied: 3, duplicate: 1, quarantined: 0, late: 0 });
      expect(s.count('merchant#mer_2222')).toBe(3);
      expect(s.count('merchant#mer_1111')).toBe(3);
      expect([
        s.count('customer#cus_aaaa'),
        s.count('customer#cus_bbbb'),
        s.count('customer#cus_cccc'),
      ]).toEqual([2, 2, 2]);
      expect(s.sideOutput.ofKind('parked')).toEqual([]);
      // The merchant rows of the three, and nothing else new: no second raw event, no customer row.
      expect(
        s.offline
          .rows('merchant')
          .map((r) => r.eventId)
          .sort(),
      ).toEqual(['evt_park_0', 'evt_park_1', 'evt_park_2', 'evt_park_3', 'evt_park_4', 'evt_park_5']);
      expect(s.offline.events('transaction')).toHaveLength(6);
      expect(s.offline.rows('customer')).toHaveLength(6);

      // Redelivered (a crash before the handler returned): the same outcomes, nothing applied again,
      // no second outcome for any record; a copy sent later is a duplicate.
      const duplicatesBefore = s.sideOutput.ofKind('duplicate').length;
      const again = await processBatch(copies, s.deps);
      expect(again.counts).toEqual({ applied: 3, duplicate: 1, quarantined: 0, late: 0 });
      expect(s.sideOutput.ofKind('duplicate')).toHaveLength(duplicatesBefore);
      const more = s.resend(
        [s.keys[1] as string],
        49_800_000_000_000_000_000_000_000_000_000_000_000_000_000n,
      );
      expect((await processBatch(more, s.deps)).counts.duplicate).toBe(1);
      expect(s.count('merchant#mer_2222')).toBe(3);
    } finally {
      s.table.ddb.restore();
    }
  });

  it('a later copy of the bytes an entry named is a duplicate, though the authority item expired since', async () => {
    // Found on review (second session): such a copy was decided by its authority, which no longer
    // remembered the event once its item had expired (30 days idle), and was applied again: to the
    // customer and the merchant, and in the offline rows of both.
    const s = await parkedForMerchant();
    try {
      const key = s.keys[0] as string;
      const first = s.resend([key]);
      expect((await processBatch(first, s.deps)).counts.applied).toBe(1);
      const merchantRows = s.offline.rows('merchant').length;
      const customerRows = s.offline.rows('customer').length;
      expect(s.count('merchant#mer_2222')).toBe(1);
      // The customer item expires (TTL), then a second copy arrives (the redrive run again, or a
      // producer retry of the copy).
      expect(s.table.items.delete(`customer#${s.customerOf(key)}`)).toBe(true);
      const second = s.resend([key], 49_800_000_000_000_000_000_000_000_000_000_000_000_000_000n);
      const result = await processBatch(second, s.deps);
      expect(result.counts).toEqual({ applied: 0, duplicate: 1, quarantined: 0, late: 0 });
      expect(s.count('merchant#mer_2222')).toBe(1);
      expect(s.table.items.has(`customer#${s.customerOf(key)}`)).toBe(false);
      expect(s.offline.rows('merchant')).toHaveLength(merchantRows);
      expect(s.offline.rows('customer')).toHaveLength(customerRows);
      expect(s.sideOutput.ofKind('duplicate').map((e) => e.recordId)).toContain(second[0]?.recordId);
    } finally {
      s.table.ddb.restore();
    }
  });

  it('two copies of one entry in a batch, the authority item expired: the first applies it to its group, the second is a duplicate', async () => {
    const s = await parkedForMerchant();
    try {
      const key = s.keys[0] as string;
      expect(s.table.items.delete(`customer#${s.customerOf(key)}`)).toBe(true);
      const customerRows = s.offline.rows('customer').length;
      const copies = s.resend([key, key]);
      const result = await processBatch(copies, s.deps);
      expect(result.counts).toEqual({ applied: 1, duplicate: 1, quarantined: 0, late: 0 });
      expect(s.count('merchant#mer_2222')).toBe(1);
      expect(s.table.items.has(`customer#${s.customerOf(key)}`)).toBe(false);
      expect(s.offline.rows('customer')).toHaveLength(customerRows);
      expect(s.offline.rows('merchant').filter((r) => r.eventId === 'evt_park_2')).toHaveLength(1);
    } finally {
      s.table.ddb.restore();
    }
  });

  it('a copy whose bytes are not those its entry names completes nothing: it is a record like any other, and the entry stays', async () => {
    const s = await parkedForMerchant();
    try {
      const key = s.keys[0] as string;
      const forged = envelope(
        transaction({ customerId: s.customerOf(key), merchantId: 'mer_2222', eventTime: at(0) }),
      );
      const copies = later([s.copy(key, Buffer.from(forged).toString('base64'))]).map((r) => ({
        ...r,
        partitionKey: s.customerOf(key),
      }));
      const result = await processBatch(copies, s.deps);
      // Its own event (a new id), decided by its authority and applied; none of the parked ones.
      expect(result.counts.applied).toBe(1);
      expect(s.count('merchant#mer_2222')).toBe(1);
      expect(s.sideOutput.entries.get(key)?.kind).toBe('parked');
      expect(s.sideOutput.ofKind('parked')).toHaveLength(3);
    } finally {
      s.table.ddb.restore();
    }
  });

  it('a copy whose group still cannot be written is a duplicate of the record it carries, whose entry stays', async () => {
    const s = await parkedForMerchant();
    try {
      s.refused.add('merchant#mer_2222');
      const key = s.keys[0] as string;
      const copies = s.resend([key]);
      const rowsBefore = s.offline.rows('merchant').length;
      const result = await processBatch(copies, s.deps);
      expect(result.failed).toEqual([]);
      expect(result.parked).toBe(1);
      expect(result.counts).toEqual({ applied: 0, duplicate: 1, quarantined: 0, late: 0 });
      expect(s.sideOutput.ofKind('duplicate').map((e) => e.recordId)).toEqual([copies[0]?.recordId]);
      expect(s.sideOutput.ofKind('parked')).toHaveLength(3);
      expect(s.sideOutput.entries.get(key)?.groups).toEqual(['merchant']);
      expect(s.offline.rows('merchant')).toHaveLength(rowsBefore);
    } finally {
      s.table.ddb.restore();
    }
  });

  it('a record parked whole is decided as a producer retry of it would be: applied once, everywhere', async () => {
    const refused = new Set(['customer#cus_bbbb']);
    const s = setup(refused);
    try {
      const originals = inputRecords(payments());
      await processBatch(originals, s.deps);
      refused.clear();
      const parked = [...s.sideOutput.entries].filter(([, e]) => e.kind === 'parked');
      const wrapped = (first: bigint) =>
        later(
          parked.map(([key, e]) =>
            Buffer.from(completionEnvelope(key, Buffer.from(e.data, 'base64'))).toString('base64'),
          ),
          first,
        ).map((r) => ({ ...r, partitionKey: 'cus_bbbb' }));
      const copies = wrapped(49_700_000_000_000_000_000_000_000_000_000_000_000_000_000n);
      const result = await processBatch(copies, s.deps);
      expect(result.counts).toEqual({ applied: 2, duplicate: 0, quarantined: 0, late: 0 });
      expect(s.count('customer#cus_bbbb')).toBe(2);
      expect([s.count('merchant#mer_1111'), s.count('merchant#mer_2222')]).toEqual([3, 3]);
      expect(s.sideOutput.ofKind('parked')).toEqual([]);
      expect(s.offline.events('transaction')).toHaveLength(6);
      // Redelivered: the same outcomes. Sent again (a redrive run twice): duplicates of the first copies.
      expect((await processBatch(copies, s.deps)).counts.applied).toBe(2);
      const twice = await processBatch(
        wrapped(49_900_000_000_000_000_000_000_000_000_000_000_000_000_000n),
        s.deps,
      );
      expect(twice.counts.duplicate).toBe(2);
      // The stream replayed from its start (the mapping started over): nothing changes online.
      const before = JSON.stringify([...s.table.items]);
      const replay = await processBatch(originals, s.deps);
      expect(replay.counts).toEqual({ applied: 4, duplicate: 2, quarantined: 0, late: 0 });
      expect(JSON.stringify([...s.table.items])).toBe(before);
      expect(s.count('customer#cus_bbbb')).toBe(2);
    } finally {
      s.table.ddb.restore();
    }
  });

  it('the stream replayed after a record parked for a group was completed does not apply it twice', async () => {
    const s = await parkedForMerchant();
    try {
      const copies = s.resend(s.keys);
      await processBatch(copies, s.deps);
      expect(s.count('merchant#mer_2222')).toBe(3);
      const before = JSON.stringify([...s.table.items]);
      await processBatch(s.records, s.deps);
      expect(s.count('merchant#mer_2222')).toBe(3);
      expect(JSON.stringify([...s.table.items])).toBe(before);
    } finally {
      s.table.ddb.restore();
    }
  });
});
