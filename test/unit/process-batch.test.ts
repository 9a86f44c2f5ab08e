import { beforeEach, describe, expect, it } from 'vitest';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import { ID_BUCKET_CAPACITY, idBucketStart } from '../../lambdas/core/id-buckets.js';
import type { EntityState, EntityStore, EntityWrite, SaveResult } from '../../lambdas/core/ports.js';
import { type ProcessorDeps, processBatch } from '../../lambdas/core/process-batch.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import { contracts, type FeatureGroup, featureGroupsByName, groupsFedBy } from '../../schemas/index.js';
import { BASE_TIME, envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';

const customer = featureGroupsByName.get('customer');
const iso = (t: number) => new Date(t).toISOString();

describe('processBatch', () => {
  let entities: InMemoryEntityStore;
  let offline: InMemoryOfflineSink;
  let side: InMemorySideOutput;
  let deps: ProcessorDeps;
  beforeEach(() => {
    entities = new InMemoryEntityStore();
    offline = new InMemoryOfflineSink();
    side = new InMemorySideOutput();
    deps = { contracts, groupsFedBy, entities, offline, sideOutput: side, sleep: async () => {} };
  });

  it('applies a valid event to every group it feeds, online and offline', async () => {
    const e = transaction({ customerId: 'cus_aaaa', merchantId: 'mer_bbbb', amountMinor: 4200 });
    const result = await processBatch(inputRecords([envelope(e)]), deps);

    expect(result.counts).toEqual({ applied: 1, duplicate: 0, quarantined: 0, late: 0 });
    expect(result.failed).toEqual([]);
    expect(entities.state('customer', 'cus_aaaa')?.latest?.values.last_amount_minor).toBe(4200);
    expect(entities.state('merchant', 'mer_bbbb')?.latest?.values.last_amount_minor).toBe(4200);
    expect(offline.rows('customer')).toHaveLength(1);
    expect(offline.rows('merchant')[0]?.eventId).toBe(e.eventId);
  });

  it('keeps the newer value when an older event arrives later, and counts both in the windows', async () => {
    const newer = transaction({ amountMinor: 2, eventTime: iso(BASE_TIME) });
    const older = transaction({ amountMinor: 1, eventTime: iso(BASE_TIME - 60_000) });
    await processBatch(inputRecords([envelope(newer)]), deps);
    const result = await processBatch(
      inputRecords([envelope(older)], { firstSequence: FIRST_SEQUENCE + 1000n }),
      deps,
    );

    expect(result.counts.applied).toBe(1);
    const state = entities.state('customer', 'cus_0001');
    expect(state?.latest?.values.last_amount_minor).toBe(2);
    const windows = evaluateWindows(customer as never, state?.tiles ?? {}, BASE_TIME);
    expect(windows).toMatchObject({
      txn_count_1h: 2,
      amount_sum_1h: 3,
      amount_min_24h: 1,
      amount_max_24h: 2,
    });
  });

  it('breaks equal event times by event id, whatever the arrival order', async () => {
    const a = transaction({ eventId: 'evt_aaaaaaaa', amountMinor: 1, eventTime: iso(BASE_TIME) });
    const b = transaction({ eventId: 'evt_bbbbbbbb', amountMinor: 2, eventTime: iso(BASE_TIME) });
    await processBatch(inputRecords([envelope(b), envelope(a)]), deps);
    expect(entities.state('customer', 'cus_0001')?.latest?.eventId).toBe('evt_bbbbbbbb');
  });

  it('writes each entity once per batch, and the id bucket of each second it has events in', async () => {
    const events = [1, 2, 3].map((i) => transaction({ amountMinor: i, eventTime: iso(BASE_TIME + i) }));
    await processBatch(inputRecords(events.map((e) => envelope(e))), deps);
    expect(entities.writes).toBe(3); // one customer, the id bucket of its second, one merchant
    expect(
      evaluateWindows(customer as never, entities.state('customer', 'cus_0001')?.tiles ?? {}, BASE_TIME + 5),
    ).toMatchObject({
      txn_count_5m: 3,
      amount_sum_1h: 6,
    });
  });

  it('changes nothing when the same batch is delivered again', async () => {
    const records = inputRecords([
      envelope(transaction()),
      envelope(transaction({ customerId: 'cus_0002' })),
    ]);
    await processBatch(records, deps);
    const snapshot = structuredClone([...entities.items.entries()]);
    const again = await processBatch(records, deps);

    expect(again.counts).toEqual({ applied: 2, duplicate: 0, quarantined: 0, late: 0 });
    expect([...entities.items.entries()]).toEqual(snapshot);
    expect(offline.rows('customer')).toHaveLength(2);
  });

  it('counts a producer retry under a new sequence number as a duplicate, once', async () => {
    const e = transaction();
    await processBatch(inputRecords([envelope(e)]), deps);
    const retry = await processBatch(
      inputRecords([envelope(e)], { firstSequence: FIRST_SEQUENCE + 900n }),
      deps,
    );

    expect(retry.counts).toEqual({ applied: 0, duplicate: 1, quarantined: 0, late: 0 });
    expect(side.ofKind('duplicate')[0]?.reason).toMatch(
      /already carried by record shardId-000000000000:49600/,
    );
    expect(
      evaluateWindows(customer as never, entities.state('customer', 'cus_0001')?.tiles ?? {}, BASE_TIME),
    ).toMatchObject({
      txn_count_1h: 1,
    });
  });

  it('takes an event id named like an inherited property at face value, and pollutes nothing', async () => {
    const ids = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    const events = ids.map((eventId, i) => transaction({ eventId, eventTime: iso(BASE_TIME + i) }));
    const first = await processBatch(inputRecords(events.map((e) => envelope(e))), deps);
    const retry = await processBatch(
      inputRecords([envelope(events[0] as never)], { firstSequence: FIRST_SEQUENCE + 900n }),
      deps,
    );
    const again = await processBatch(inputRecords(events.map((e) => envelope(e))), deps);

    expect(first.counts).toEqual({ applied: 4, duplicate: 0, quarantined: 0, late: 0 });
    expect(retry.counts).toEqual({ applied: 0, duplicate: 1, quarantined: 0, late: 0 });
    expect(again.counts).toEqual({ applied: 4, duplicate: 0, quarantined: 0, late: 0 });
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).r).toBeUndefined();
    const state = entities.state('customer', 'cus_0001');
    const bucket = entities.state('customer/ids', `cus_0001@${idBucketStart(BASE_TIME)}`);
    expect(Object.keys(bucket?.recent ?? {}).sort()).toEqual([...ids].sort());
    expect(evaluateWindows(customer as never, state?.tiles ?? {}, BASE_TIME + 5)).toMatchObject({
      txn_count_5m: 4,
    });
  });

  it('recognises a retry by its id within the second of its event time: the id with another time is another event', async () => {
    const e = transaction({ eventTime: iso(BASE_TIME) });
    const restamped = { ...e, eventTime: iso(BASE_TIME + 5_000) };
    const sameSecond = { ...e, eventTime: iso(BASE_TIME + 999) };
    await processBatch(inputRecords([envelope(e)]), deps);
    const later = await processBatch(
      inputRecords([envelope(restamped), envelope(sameSecond)], { firstSequence: FIRST_SEQUENCE + 900n }),
      deps,
    );
    expect(later.counts).toEqual({ applied: 1, duplicate: 1, quarantined: 0, late: 0 });
    expect(
      later.outcomes.get(
        inputRecords([envelope(restamped)], { firstSequence: FIRST_SEQUENCE + 900n })[0]?.recordId ?? '',
      ),
    ).toBe('applied');
  });

  it('counts a repeated event id within one batch once', async () => {
    const e = transaction();
    const result = await processBatch(inputRecords([envelope(e), envelope(e)]), deps);
    expect(result.counts).toEqual({ applied: 1, duplicate: 1, quarantined: 0, late: 0 });
  });

  it.each([
    ['not JSON', '{"contract":', /not valid UTF-8 JSON/],
    ['no envelope', JSON.stringify(transaction()), /not an event envelope/],
    ['an unknown contract', envelope(transaction(), 'refund'), /unknown contract "refund"/],
    ['an unknown version', envelope(transaction(), 'transaction', 9), /has no version 9/],
    ['a bad currency', envelope(transaction({ currency: 'dirham' })), /currency: must be an ISO 4217 code/],
    ['a bad e-mail', envelope(transaction({ customerEmail: 'nope' })), /customerEmail: Invalid email/],
    [
      'an event time far in the future',
      envelope(transaction({ eventTime: '2027-01-01T00:00:00Z' })),
      /more than 5 minutes after/,
    ],
  ])(
    'quarantines a record with %s, with its reason and payload, and applies the rest',
    async (_, payload, reason) => {
      const good = transaction({ customerId: 'cus_good' });
      const records = inputRecords([payload, envelope(good)]);
      const result = await processBatch(records, deps);

      expect(result.counts).toEqual({ applied: 1, duplicate: 0, quarantined: 1, late: 0 });
      const [q] = side.ofKind('quarantine');
      expect(q?.reason).toMatch(reason);
      expect(q?.data).toBe(records[0]?.data);
      expect(entities.state('customer', 'cus_good')).toBeDefined();
    },
  );

  it('quarantines a record whose partition key is not its customer id', async () => {
    const [record] = inputRecords([envelope(transaction())]);
    if (!record) throw new Error('no record');
    const result = await processBatch([{ ...record, partitionKey: 'random-key' }], deps);
    expect(result.counts.quarantined).toBe(1);
    expect(side.ofKind('quarantine')[0]?.reason).toMatch(/partition key must be the event's customerId/);
  });

  it('never puts a field value into a quarantine reason', async () => {
    await processBatch(inputRecords([envelope(transaction({ customerEmail: 'secret-person' }))]), deps);
    expect(side.ofKind('quarantine')[0]?.reason).not.toContain('secret-person');
  });

  it('sends an event older than the watermark to the late output instead of the stores', async () => {
    await processBatch(inputRecords([envelope(transaction({ eventTime: iso(BASE_TIME) }))]), deps);
    const late = transaction({ eventTime: iso(BASE_TIME - 2 * 3_600_000) });
    const result = await processBatch(
      inputRecords([envelope(late)], { firstSequence: FIRST_SEQUENCE + 1000n }),
      deps,
    );

    expect(result.counts).toEqual({ applied: 0, duplicate: 0, quarantined: 0, late: 1 });
    expect(side.ofKind('late')[0]).toMatchObject({ groups: ['customer', 'merchant'], outcome: 'late' });
    expect(offline.rows('customer').map((r) => r.eventId)).not.toContain(late.eventId);
    expect(
      evaluateWindows(customer as never, entities.state('customer', 'cus_0001')?.tiles ?? {}, BASE_TIME),
    ).toMatchObject({
      txn_count_24h: 1,
    });
  });

  it('applies an old event while the entity has nothing newer (the watermark is per entity)', async () => {
    const old = transaction({ eventTime: iso(BASE_TIME - 2 * 3_600_000) });
    const result = await processBatch(inputRecords([envelope(old)]), deps);
    expect(result.counts.applied).toBe(1);
  });

  it('reports the first record of a failed write and completes only the records before it', async () => {
    const failing: EntityStore = {
      load: (keys) => entities.load(keys),
      save: async (writes: readonly EntityWrite[]): Promise<SaveResult[]> => {
        const results = await entities.save(writes.filter((w) => w.key.entityId !== 'cus_bad1'));
        return writes.map((w) =>
          w.key.entityId === 'cus_bad1'
            ? { failed: new Error('throttled') }
            : (results.shift() as SaveResult),
        );
      },
    };
    const records = inputRecords([
      envelope(transaction({ customerId: 'cus_good' })),
      envelope(transaction({ customerId: 'cus_bad1' })),
      envelope(transaction({ customerId: 'cus_also' })),
    ]);
    const result = await processBatch(records, { ...deps, entities: failing });

    expect(result.failed).toEqual([records[1]?.sequenceNumber, records[2]?.sequenceNumber]);
    expect([...result.outcomes.keys()]).toEqual([records[0]?.recordId]);
    expect(result.errors[0]?.message).toBe('throttled');
    // Redelivery from the failed record completes it; the record that was written is not applied twice.
    const redelivered = await processBatch(records.slice(1), deps);
    expect(redelivered.failed).toEqual([]);
    expect(entities.state('customer', 'cus_also')?.checkpoints).toBeDefined();
    const merchantTiles = entities.state('merchant', 'mer_0001')?.tiles ?? {};
    const merchant = featureGroupsByName.get('merchant');
    expect(evaluateWindows(merchant as never, merchantTiles, BASE_TIME).txn_count_1h).toBe(3);
  });
});

describe('processBatch with a very hot entity', () => {
  const customer = featureGroupsByName.get('customer') as FeatureGroup;
  const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
  const setUp = (group: FeatureGroup = customer, store: EntityStore = new InMemoryEntityStore()) => {
    const side = new InMemorySideOutput();
    const deps: ProcessorDeps = {
      contracts,
      groupsFedBy: () => [group, merchant],
      entities: store,
      offline: new InMemoryOfflineSink(),
      sideOutput: side,
      sleep: async () => {},
    };
    return { deps, side };
  };
  const bucketOf = (entities: InMemoryEntityStore, t: number) =>
    entities.state('customer/ids', `cus_0001@${idBucketStart(t)}`);
  const count1h = (entities: InMemoryEntityStore, at: number) =>
    evaluateWindows(customer, entities.state('customer', 'cus_0001')?.tiles ?? {}, at).txn_count_1h;

  it('keeps ids in its item only while they fit in the write units it pays anyway, the rest in buckets of their second, written once', async () => {
    const entities = new InMemoryEntityStore();
    const { deps } = setUp(customer, entities);
    const events = Array.from({ length: 25 }, (_, i) =>
      transaction({ eventTime: iso(BASE_TIME + i * 1000) }),
    );
    await processBatch(inputRecords(events.map((e) => envelope(e))), deps);
    const state = entities.state('customer', 'cus_0001') as EntityState;
    const inItem = Object.keys(state.recent);
    const inBuckets = events.filter((e, i) =>
      Object.hasOwn(bucketOf(entities, BASE_TIME + i * 1000)?.recent ?? {}, e.eventId),
    );
    // Each id in exactly one place; some of each here; the item in the units it needs without ids.
    expect(inItem.length + inBuckets.length).toBe(25);
    expect(inItem.length).toBeGreaterThan(0);
    expect(inBuckets.length).toBeGreaterThan(0);
    expect(inItem.every((id) => !inBuckets.some((e) => e.eventId === id))).toBe(true);
    const key = { group: 'customer', entityId: 'cus_0001' };
    const units = (s: EntityState) => Math.ceil(entities.writeUnits.sizeOf(key, s) / 1024);
    expect(units(state)).toBe(units({ ...state, recent: {} }));
    expect(entities.writes).toBe(inBuckets.length + 2); // its buckets, the customer, the merchant

    // A later batch writes the customer and at most the bucket of its new second, nothing older.
    const before = entities.writes;
    await processBatch(
      inputRecords([envelope(transaction({ eventTime: iso(BASE_TIME + 30_000) }))], {
        firstSequence: FIRST_SEQUENCE + 1000n,
      }),
      deps,
    );
    expect(entities.writes - before).toBeLessThanOrEqual(3);

    // A producer retry finds its original's id, in the item or in the bucket of its second.
    for (const original of [inItem[0], inBuckets[0]?.eventId]) {
      const e = events.find((x) => x.eventId === original) as (typeof events)[number];
      const retry = await processBatch(
        inputRecords([envelope(e)], {
          firstSequence: FIRST_SEQUENCE + 2000n + BigInt(events.indexOf(e)) * 10n,
        }),
        deps,
      );
      expect(retry.counts).toEqual({ applied: 0, duplicate: 1, quarantined: 0, late: 0 });
    }
    expect(count1h(entities, BASE_TIME + 30_000)).toBe(26);
  });

  it('past a full bucket, remembers ids in the entity, bounded by maxRecentEvents: a retry of an evicted one is late, never applied twice', async () => {
    const hot = { ...customer, maxRecentEvents: 10 };
    const entities = new InMemoryEntityStore();
    const { deps } = setUp(hot, entities);
    const n = ID_BUCKET_CAPACITY + 25;
    const events = Array.from({ length: n }, (_, i) =>
      transaction({ eventTime: iso(BASE_TIME + (i % 1000)) }),
    );
    await processBatch(inputRecords(events.map((e) => envelope(e))), deps);
    expect(Object.keys(bucketOf(entities, BASE_TIME)?.recent ?? {})).toHaveLength(ID_BUCKET_CAPACITY);
    expect(Object.keys(entities.state('customer', 'cus_0001')?.recent ?? {})).toHaveLength(25);

    // A later batch prunes the entity's ids to the bound; the oldest are gone and the floor is above them.
    await processBatch(
      inputRecords([envelope(transaction({ eventTime: iso(BASE_TIME + 30_000) }))], {
        firstSequence: FIRST_SEQUENCE + 100_000n,
      }),
      deps,
    );
    const after = entities.state('customer', 'cus_0001');
    expect(Object.keys(after?.recent ?? {})).toHaveLength(10);
    expect(after?.floor).toBeGreaterThan(BASE_TIME);

    const retry = await processBatch(
      inputRecords([envelope(events[ID_BUCKET_CAPACITY] as never)], {
        firstSequence: FIRST_SEQUENCE + 200_000n,
      }),
      deps,
    );
    expect(retry.counts).toEqual({ applied: 0, duplicate: 0, quarantined: 0, late: 1 });
    expect(count1h(entities, BASE_TIME + 30_000)).toBe(n + 1);
  });

  it('applies a record once when its bucket was saved and its entity was not (a crash or failure in between)', async () => {
    const inner = new InMemoryEntityStore();
    let failCustomer = true;
    const store: EntityStore = {
      load: (keys, options) => inner.load(keys, options),
      save: async (writes) => {
        if (failCustomer && writes.some((w) => w.key.group === 'customer')) {
          failCustomer = false;
          return writes.map(() => ({ failed: new Error('injected') }));
        }
        return inner.save(writes);
      },
    };
    const { deps } = setUp(customer, store);
    const e = transaction();
    const records = inputRecords([envelope(e), envelope(e)]);
    const first = await processBatch(records, deps);
    expect(first.failed).toHaveLength(2);
    expect(Object.keys(bucketOf(inner, BASE_TIME)?.recent ?? {})).toEqual([e.eventId]);
    expect(inner.state('customer', 'cus_0001')).toBeUndefined();

    const again = await processBatch(records, deps);
    expect(again.counts).toEqual({ applied: 1, duplicate: 1, quarantined: 0, late: 0 });
    expect(count1h(inner, BASE_TIME)).toBe(1);
    expect(inner.state('merchant', 'mer_0001')?.latest?.eventId).toBe(e.eventId);
  });

  it('turns its id epoch daily: the floor rises to its newest event time of the previous epoch, or of now after a long idle spell', async () => {
    const entities = new InMemoryEntityStore();
    const { deps } = setUp(customer, entities);
    const DAY = 24 * 3_600_000;
    let clock = BASE_TIME;
    const at = { ...deps, now: () => clock };
    let sequence = FIRST_SEQUENCE;
    const send = (eventTime: number) => {
      sequence += 1000n;
      return processBatch(
        inputRecords([envelope(transaction({ eventTime: iso(eventTime) }))], { firstSequence: sequence }),
        at,
      );
    };
    await send(BASE_TIME);
    clock += 1.5 * DAY; // turns; the previous epoch saw nothing, so no floor yet
    expect((await send(BASE_TIME + 60_000)).counts.applied).toBe(1);
    expect(entities.state('customer', 'cus_0001')?.floor).toBeUndefined();
    clock += 1.5 * DAY; // turns: the floor rises above the newest event time of the epoch before
    expect((await send(BASE_TIME + 1000)).counts.applied).toBe(1);
    expect(entities.state('customer', 'cus_0001')?.floor).toBe(BASE_TIME + 1);
    expect((await send(BASE_TIME - 1000)).counts.late).toBe(1); // within the lateness, but below the floor
    clock += 10 * DAY; // idle for longer than buckets live: the floor rises to the newest event time itself
    expect((await send(BASE_TIME + 60_000 - 1000)).counts.late).toBe(1);
    expect(entities.state('customer', 'cus_0001')?.floor).toBe(BASE_TIME + 60_001);
  });
});
