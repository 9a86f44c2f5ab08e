import { beforeEach, describe, expect, it } from 'vitest';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import { unqualified } from '../../lambdas/core/entity-state.js';
import { idBucketStart } from '../../lambdas/core/id-buckets.js';
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

  it('writes each entity once per batch', async () => {
    const events = [1, 2, 3].map((i) => transaction({ amountMinor: i, eventTime: iso(BASE_TIME + i) }));
    await processBatch(inputRecords(events.map((e) => envelope(e))), deps);
    expect(entities.writes).toBe(2); // one customer (its event ids with it), one merchant
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
    const kept = [...Object.keys(state?.recent ?? {}).map(unqualified), ...Object.keys(bucket?.recent ?? {})];
    expect(kept.sort()).toEqual([...ids].sort());
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

  it('quarantines a KPL-aggregated record (Lambda does not de-aggregate) with a reason that says so', async () => {
    const [record] = inputRecords([envelope(transaction())]);
    if (!record) throw new Error('no record');
    // Magic number, a protobuf AggregatedRecord (here just some bytes) and its MD5.
    const kpl = Buffer.concat([
      Buffer.from([0xf3, 0x89, 0x9a, 0xc2]),
      Buffer.from([0x0a, 0x02, 0x70, 0x6b]),
      Buffer.alloc(16),
    ]);
    const result = await processBatch([{ ...record, data: kpl.toString('base64') }], deps);
    expect(result.counts.quarantined).toBe(1);
    expect(side.ofKind('quarantine')[0]?.reason).toMatch(/KPL-aggregated record .* AggregationEnabled=false/);
  });

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

  /** A store billed by the byte: every settled id leaves the item at the entity's next batch. */
  const byteBilled = () => {
    const inner = new InMemoryEntityStore();
    const store: EntityStore = {
      load: (keys, options) => inner.load(keys, options),
      save: (writes) => inner.save(writes),
      addIds: (writes) => inner.addIds(writes),
      writeUnits: { ...inner.writeUnits, unitBytes: 1 },
    };
    return { inner, store };
  };
  const settle = async (deps: ProcessorDeps) => {
    const events = Array.from({ length: 25 }, (_, i) =>
      transaction({ eventTime: iso(BASE_TIME + i * 1000) }),
    );
    await processBatch(inputRecords(events.map((e) => envelope(e))), deps);
    return events;
  };
  const next = () =>
    inputRecords([envelope(transaction({ eventTime: iso(BASE_TIME + 30_000) }))], {
      firstSequence: FIRST_SEQUENCE + 1000n,
    });
  const placeOf = (entities: InMemoryEntityStore, e: { eventId: string; eventTime: string }) => {
    const t = Date.parse(e.eventTime);
    const inItem = Object.keys(entities.state('customer', 'cus_0001')?.recent ?? {}).some((k) =>
      k.endsWith(`~${e.eventId}`),
    );
    const inBucket = Object.hasOwn(bucketOf(entities, t)?.recent ?? {}, e.eventId);
    return inItem && inBucket ? 'both' : inItem ? 'item' : inBucket ? 'bucket' : 'nowhere';
  };

  it("keeps a batch's ids in its item with their events, and a later batch moves those that no longer fit to buckets of their second", async () => {
    const entities = new InMemoryEntityStore();
    const { deps } = setUp(customer, entities);
    const events = await settle(deps);
    expect(entities.writes).toBe(2); // the customer and the merchant: ids travel with their events
    expect(events.map((e) => placeOf(entities, e))).toEqual(events.map(() => 'item'));

    await processBatch(next(), deps);
    const places = events.map((e) => placeOf(entities, e));
    expect(places).not.toContain('nowhere');
    expect(places).not.toContain('both');
    expect(places).toContain('bucket');
    // What stays fits in the write units the item needs without any id.
    const key = { group: 'customer', entityId: 'cus_0001' };
    const state = entities.state('customer', 'cus_0001') as EntityState;
    const units = (x: EntityState) => Math.ceil(entities.writeUnits.sizeOf(key, x) / 1024);
    expect(units(state)).toBe(units({ ...state, recent: {} }));

    // A producer retry finds its original's id wherever it is kept.
    for (const where of new Set(places)) {
      const e = events[places.lastIndexOf(where)] as (typeof events)[number];
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

  it('without id buckets, bounds the ids in its item by maxRecentEvents: a retry of an evicted one is late, never applied twice', async () => {
    const entities = new InMemoryEntityStore();
    // A store without id buckets (or whose bucket writes fail): eviction is what bounds the item.
    const plain: EntityStore = { load: (k, o) => entities.load(k, o), save: (w) => entities.save(w) };
    const { deps } = setUp({ ...customer, maxRecentEvents: 10 }, plain);
    const events = await settle(deps);
    await processBatch(next(), deps);
    const after = entities.state('customer', 'cus_0001');
    expect(Object.keys(after?.recent ?? {}).length).toBeLessThanOrEqual(10);
    expect(after?.floor).toBeGreaterThan(BASE_TIME);

    const retry = await processBatch(
      inputRecords([envelope(events[0] as never)], { firstSequence: FIRST_SEQUENCE + 2000n }),
      deps,
    );
    expect(retry.counts).toEqual({ applied: 0, duplicate: 0, quarantined: 0, late: 1 });
    // The floor covers the whole second: the evicted id sent again later in its second is not new.
    const evicted = events.find((e) => Date.parse(e.eventTime) === (after?.floor as number) - 1000);
    const copy = { ...(evicted as (typeof events)[number]), eventTime: iso((after?.floor as number) - 500) };
    const again = await processBatch(
      inputRecords([envelope(copy)], { firstSequence: FIRST_SEQUENCE + 3000n }),
      deps,
    );
    expect(again.counts).toEqual({ applied: 0, duplicate: 0, quarantined: 0, late: 1 });
    expect(count1h(entities, BASE_TIME + 30_000)).toBe(26);
  });

  it('moves ids a bucket can take instead of evicting them: a busy customer keeps its lateness', async () => {
    const entities = new InMemoryEntityStore();
    const { deps } = setUp(customer, entities);
    const burst = (from: number, n: number, sequence: bigint) =>
      processBatch(
        inputRecords(
          Array.from({ length: n }, (_, i) =>
            envelope(transaction({ eventTime: iso(BASE_TIME + (from + i) * 1000) })),
          ),
          { firstSequence: sequence },
        ),
        deps,
      );
    await burst(0, 400, FIRST_SEQUENCE);
    await burst(400, 200, FIRST_SEQUENCE + 10_000n);
    expect(entities.state('customer', 'cus_0001')?.floor).toBeUndefined();
    const late = await processBatch(
      inputRecords([envelope(transaction({ eventTime: iso(BASE_TIME + 60_000) }))], {
        firstSequence: FIRST_SEQUENCE + 20_000n,
      }),
      deps,
    );
    expect(late.counts.applied).toBe(1); // nine minutes behind the newest, within the hour
  });

  it('moves ids before it saves the item without them: a failure in between leaves them in both places, harmlessly', async () => {
    const inner = new InMemoryEntityStore();
    let failCustomer = false;
    const store: EntityStore = {
      load: (keys, options) => inner.load(keys, options),
      save: async (writes) => {
        if (failCustomer && writes.some((w) => w.key.group === 'customer')) {
          failCustomer = false;
          return writes.map(() => ({ failed: new Error('injected') }));
        }
        return inner.save(writes);
      },
      addIds: (writes) => inner.addIds(writes),
      writeUnits: inner.writeUnits,
    };
    const { deps } = setUp(customer, store);
    const events = await settle(deps);
    failCustomer = true;
    const records = next();
    expect((await processBatch(records, deps)).failed).toHaveLength(1);
    expect(events.map((e) => placeOf(inner, e))).toContain('both');

    const again = await processBatch(records, deps);
    expect(again.counts).toEqual({ applied: 1, duplicate: 0, quarantined: 0, late: 0 });
    expect(events.map((e) => placeOf(inner, e))).not.toContain('nowhere');
    const retry = await processBatch(
      inputRecords([envelope(events[0] as never)], { firstSequence: FIRST_SEQUENCE + 2000n }),
      deps,
    );
    expect(retry.counts.duplicate).toBe(1);
    expect(count1h(inner, BASE_TIME + 30_000)).toBe(26);
  });

  it('keeps in its item the ids a bucket could not take (a failure, an item at its size limit)', async () => {
    const inner = new InMemoryEntityStore();
    const store: EntityStore = {
      load: (keys, options) => inner.load(keys, options),
      save: (writes) => inner.save(writes),
      addIds: async (writes) =>
        writes.map(() => ({ failed: new Error('item size has exceeded the maximum') })),
      writeUnits: inner.writeUnits,
    };
    const { deps } = setUp(customer, store);
    const events = await settle(deps);
    const result = await processBatch(next(), deps);
    expect(result.failed).toEqual([]);
    expect(events.map((e) => placeOf(inner, e))).toEqual(events.map(() => 'item'));
  });

  it('lets all copies of one event leave the horizon together, wherever in their second its line falls', async () => {
    const entities = new InMemoryEntityStore();
    const laxMerchant = { ...merchant, allowedLatenessMs: 3 * 3_600_000 };
    const deps: ProcessorDeps = {
      contracts,
      groupsFedBy: () => [customer, laxMerchant],
      entities,
      offline: new InMemoryOfflineSink(),
      sideOutput: new InMemorySideOutput(),
      sleep: async () => {},
    };
    const original = transaction({ eventTime: iso(BASE_TIME) });
    await processBatch(inputRecords([envelope(original)]), deps);
    // The customer's newest event puts its id horizon 500 ms into the original's second.
    const horizon = customer.allowedLatenessMs + 10 * 60_000;
    const arrivalTime = BASE_TIME + 500 + horizon;
    const newest = await processBatch(
      inputRecords([envelope(transaction({ eventTime: iso(BASE_TIME + 500 + horizon) }))], {
        firstSequence: FIRST_SEQUENCE + 1000n,
        arrivalTime,
      }),
      deps,
    );
    expect(newest.counts.applied).toBe(1);
    const copy = { ...original, eventTime: iso(BASE_TIME + 700) }; // the same event: same id, same second
    const result = await processBatch(
      inputRecords([envelope(copy)], { firstSequence: FIRST_SEQUENCE + 2000n, arrivalTime }),
      deps,
    );
    expect(result.counts).toEqual({ applied: 0, duplicate: 0, quarantined: 0, late: 1 });
    expect(
      (deps.offline as InMemoryOfflineSink).rows('merchant').filter((r) => r.eventId === original.eventId),
    ).toHaveLength(1);
  });

  it('never makes a record its own duplicate when its entity lost the checkpoint but its id lives on in a bucket', async () => {
    const { inner, store } = byteBilled();
    const { deps } = setUp(customer, store);
    const records = inputRecords([envelope(transaction({ eventTime: iso(BASE_TIME) }))]);
    await processBatch(records, deps);
    await processBatch(next(), deps); // the first id moves to its bucket
    expect(Object.keys(bucketOf(inner, BASE_TIME)?.recent ?? {})).toHaveLength(1);
    inner.items.delete('customer#cus_0001'); // erased, or expired, without its bucket
    const again = await processBatch(records, deps);
    expect(again.counts).toEqual({ applied: 1, duplicate: 0, quarantined: 0, late: 0 });
  });

  it('reads every bucket of an entity it cannot read itself: a retry after the item was lost (erased, expired) is still a duplicate', async () => {
    const { inner, store } = byteBilled();
    const { deps } = setUp(customer, store);
    const original = transaction({ eventTime: iso(BASE_TIME) });
    await processBatch(inputRecords([envelope(original)]), deps);
    await processBatch(next(), deps); // the first id moves to its bucket
    expect(Object.keys(bucketOf(inner, BASE_TIME)?.recent ?? {})).toHaveLength(1);
    inner.items.delete('customer#cus_0001');
    const retry = await processBatch(
      inputRecords([envelope(original)], { firstSequence: FIRST_SEQUENCE + 5000n }),
      deps,
    );
    expect(retry.counts).toEqual({ applied: 0, duplicate: 1, quarantined: 0, late: 0 });
  });

  it('keeps an item that moved ids until its buckets have expired, whatever its event times: a new item would not read them', async () => {
    const { inner, store } = byteBilled();
    const { deps } = setUp(customer, store);
    // A backlog: events a month older than the wall clock, so the item's own TTL (event time + 7
    // days) is already past, while buckets written now live for 8 days and more.
    const at = { ...deps, now: () => BASE_TIME + 30 * 86_400_000 };
    await processBatch(inputRecords([envelope(transaction({ eventTime: iso(BASE_TIME) }))]), at);
    await processBatch(next(), at); // the first id moves to its bucket
    const item = inner.items.get('customer#cus_0001');
    const bucket = inner.items.get(`customer/ids#cus_0001@${idBucketStart(BASE_TIME)}`);
    expect(item?.state.ep).toHaveLength(1);
    expect(bucket).toBeDefined();
    expect(item?.expiresAt).toBeGreaterThan(bucket?.expiresAt as number);
  });

  it('keeps that item until its buckets have expired also once its move log is gone (its floor goes with it)', async () => {
    const inner = new InMemoryEntityStore(); // billed by the KB, as DynamoDB
    const offline = new InMemoryOfflineSink();
    const HOUR = 3_600_000;
    const DAY = 24 * HOUR;
    const c0 = BASE_TIME + 31 * DAY; // a backlog older than the customer TTL
    let clock = c0;
    const deps: ProcessorDeps = {
      contracts,
      groupsFedBy: () => [customer, merchant],
      entities: inner,
      offline,
      sideOutput: new InMemorySideOutput(),
      sleep: async () => {},
      now: () => clock,
    };
    let sequence = FIRST_SEQUENCE;
    const send = (...events: ReturnType<typeof transaction>[]) => {
      sequence += 1000n;
      return processBatch(
        inputRecords(
          events.map((e) => envelope(e)),
          { firstSequence: sequence },
        ),
        deps,
      );
    };
    const burst = (from: number) =>
      Array.from({ length: 25 }, (_, i) => transaction({ eventTime: iso(BASE_TIME + (from + i) * 1000) }));
    await send(...burst(0));
    clock = c0 + HOUR;
    const second = burst(100);
    await send(...second); // the first burst's ids move: an epoch starts
    clock = c0 + 37 * HOUR;
    const last = transaction({ eventTime: iso(BASE_TIME + 200_000) });
    await send(last); // the second burst's ids move, in the same epoch
    clock = c0 + 8 * DAY + 2 * HOUR;
    await send(last); // the epoch's first buckets may expire: the floor rises, the epoch goes
    const item = inner.items.get('customer#cus_0001');
    const bucket = inner.items.get(
      `customer/ids#cus_0001@${idBucketStart(Date.parse(second[0]?.eventTime as string))}`,
    );
    expect(item?.state.ep).toBeUndefined();
    expect(item?.expiresAt).toBeGreaterThan(bucket?.expiresAt as number);
  });

  it('reads no bucket for events newer than every id its entity moved, and the bucket of an older one', async () => {
    const { inner, store } = byteBilled();
    const asked: string[] = [];
    const counting: EntityStore = {
      ...store,
      load: (keys, options) => {
        for (const k of keys) if (k.group.endsWith('/ids')) asked.push(k.entityId);
        return store.load(keys, options);
      },
    };
    const { deps } = setUp(customer, counting);
    const original = transaction({ eventTime: iso(BASE_TIME) });
    await processBatch(inputRecords([envelope(original)]), deps);
    await processBatch(next(), deps); // the first id moves to its bucket
    expect(inner.state('customer', 'cus_0001')?.ep).toHaveLength(1);
    asked.length = 0;
    await processBatch(next(), deps);
    expect(asked).toEqual([]);
    const retry = await processBatch(
      inputRecords([envelope(original)], { firstSequence: FIRST_SEQUENCE + 5000n }),
      deps,
    );
    expect(retry.counts.duplicate).toBe(1);
    expect(asked).toEqual([`cus_0001@${BASE_TIME}`]);
  });

  it('raises the floor above moved ids only before their buckets can expire: after a week-long stall, not a day-long one', async () => {
    const { inner, store } = byteBilled();
    const { deps } = setUp(customer, store);
    const HOUR = 3_600_000;
    const DAY = 24 * HOUR;
    let clock = BASE_TIME;
    const at = { ...deps, now: () => clock };
    let sequence = FIRST_SEQUENCE;
    const send = (...eventTimes: number[]) => {
      sequence += 1000n;
      return processBatch(
        inputRecords(
          eventTimes.map((t) => envelope(transaction({ eventTime: iso(t) }))),
          { firstSequence: sequence },
        ),
        at,
      );
    };
    const floor = () => inner.state('customer', 'cus_0001')?.floor;
    await send(BASE_TIME);
    clock += HOUR;
    await send(BASE_TIME + 1000); // the first id leaves for its bucket: an epoch is logged
    expect(inner.state('customer', 'cus_0001')?.ep).toEqual([{ w: clock, m: BASE_TIME }]);
    clock += DAY; // the consumer stalled a day: nothing expires, in-lateness events count
    expect((await send(BASE_TIME + 30_000, BASE_TIME + 15_000)).counts.applied).toBe(2);
    expect(floor()).toBeUndefined();
    clock += 9 * DAY; // a week and more: the epoch's buckets may expire, the floor rises above its ids
    expect((await send(BASE_TIME + 60_000)).counts.applied).toBe(1);
    expect(floor()).toBe(BASE_TIME + 2000); // the end of the second of the newest id the epoch moved
    expect((await send(BASE_TIME + 1500)).counts.late).toBe(1);
    expect((await send(BASE_TIME + 20_000)).counts.applied).toBe(1);
  });
});
