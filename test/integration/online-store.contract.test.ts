import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDbOnlineStore } from '../../lambdas/adapters/dynamodb-online-store.js';
import { InMemoryOnlineStore } from '../../lambdas/adapters/memory.js';
import type { FeatureRecord, OnlineStore } from '../../lambdas/core/ports.js';
import { provisionTestResources } from '../support/aws-resources.js';
import { BASE_TIME } from '../support/records.js';

const record = (
  entityId: string,
  eventTime: number,
  eventId: string,
  amount: number | null,
): FeatureRecord => ({
  group: 'customer',
  entityId,
  eventTime,
  eventId,
  ingestionTime: eventTime + 5,
  contractVersion: 1,
  values: { last_amount_minor: amount, last_currency: 'AED' },
  // In the future: DynamoDB Local really deletes expired items, as DynamoDB does.
  expiresAt: Math.ceil(Date.now() / 1000) + 3600,
});

// The same contract, run against every implementation of the port.
const implementations: [string, () => Promise<OnlineStore>][] = [
  ['in memory', async () => new InMemoryOnlineStore()],
  [
    'DynamoDB',
    async () => {
      const { names, dynamodb } = await provisionTestResources(inject('standIns'));
      return new DynamoDbOnlineStore({ tableName: names.onlineTable, client: dynamodb });
    },
  ],
];

describe.each(implementations)('OnlineStore contract: %s', (_, create) => {
  let store: OnlineStore;
  beforeAll(async () => {
    store = await create();
  });

  it('stores a first value and reads it back with its event time', async () => {
    expect(await store.putLatest([record('cus_a001', BASE_TIME, 'evt_1', 10)])).toEqual(['applied']);
    const [got] = await store.getLatest([{ group: 'customer', entityId: 'cus_a001' }]);
    expect(got).toMatchObject({
      eventTime: BASE_TIME,
      eventId: 'evt_1',
      values: { last_amount_minor: 10, last_currency: 'AED' },
    });
  });

  it('keeps the newer value when an older event is written later', async () => {
    await store.putLatest([record('cus_a002', BASE_TIME, 'evt_2', 20)]);
    expect(await store.putLatest([record('cus_a002', BASE_TIME - 1, 'evt_3', 30)])).toEqual(['stale']);
    const [got] = await store.getLatest([{ group: 'customer', entityId: 'cus_a002' }]);
    expect(got?.values.last_amount_minor).toBe(20);
  });

  it('treats the same event written again as a no-op', async () => {
    await store.putLatest([record('cus_a003', BASE_TIME, 'evt_4', 40)]);
    expect(await store.putLatest([record('cus_a003', BASE_TIME, 'evt_4', 40)])).toEqual(['stale']);
  });

  it('breaks an event-time tie by the larger event id', async () => {
    await store.putLatest([record('cus_a004', BASE_TIME, 'evt_b', 1)]);
    expect(await store.putLatest([record('cus_a004', BASE_TIME, 'evt_a', 2)])).toEqual(['stale']);
    expect(await store.putLatest([record('cus_a004', BASE_TIME, 'evt_c', 3)])).toEqual(['applied']);
    const [got] = await store.getLatest([{ group: 'customer', entityId: 'cus_a004' }]);
    expect(got?.eventId).toBe('evt_c');
  });

  it('returns results in request order with explicit misses', async () => {
    await store.putLatest([
      record('cus_a005', BASE_TIME, 'evt_5', 5),
      record('cus_a006', BASE_TIME, 'evt_6', 6),
    ]);
    const got = await store.getLatest([
      { group: 'customer', entityId: 'cus_a006' },
      { group: 'customer', entityId: 'cus_none' },
      { group: 'customer', entityId: 'cus_a005' },
    ]);
    expect(got.map((r) => r?.eventId)).toEqual(['evt_6', undefined, 'evt_5']);
  });

  it('reads more than one BatchGetItem page (100 keys)', async () => {
    const many = Array.from({ length: 130 }, (_, i) =>
      record(`cus_m${String(i).padStart(4, '0')}`, BASE_TIME, `evt_m${i}`, i),
    );
    const results = await store.putLatest(many);
    expect(
      results.filter((r) => r !== 'applied').map((r) => String((r as { failed?: Error }).failed ?? r)),
    ).toEqual([]);
    const got = await store.getLatest(many.map((r) => ({ group: r.group, entityId: r.entityId })));
    expect(got.map((r) => r?.values.last_amount_minor)).toEqual(many.map((r) => r.values.last_amount_minor));
  });
});
