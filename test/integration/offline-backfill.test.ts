/**
 * Backfill from the raw events into DynamoDB Local, through the processor core: it rebuilds what
 * the stream computed, a re-run writes nothing, and a fresher value online is never overwritten.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import type { EntityStore } from '../../lambdas/core/ports.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import { backfill } from '../../offline/backfill/backfill.js';
import { S3ObjectStore } from '../../offline/storage/s3-object-store.js';
import { customer } from '../../schemas/customer.features.js';
import { contracts, type FeatureGroup, groupsFedBy } from '../../schemas/index.js';
import { merchant } from '../../schemas/merchant.features.js';
import { transaction as transactionContract } from '../../schemas/transaction.contract.js';
import { provisionTestResources, type TestResources } from '../support/aws-resources.js';
import { offlineBatchesOf, putBatches, type Step } from '../support/offline-fixtures.js';
import { envelope, inputRecords, transaction } from '../support/records.js';

const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
// Yesterday, 22:00 UTC: close to a day boundary, and recent, because DynamoDB Local (like DynamoDB)
// deletes items whose TTL has passed, at times of its own choosing.
const DAY = 86_400_000;
const T = Math.floor(Date.now() / DAY) * DAY - DAY + 22 * 3_600_000;
const D0 = iso(T).slice(0, 10);
const D1 = iso(T + DAY).slice(0, 10);

const steps: Step[] = [
  {
    event: { customerId: 'cus_bf01', merchantId: 'mer_bf01', amountMinor: 100, eventTime: iso(T) },
    arrival: T + 1000,
  },
  {
    version: 1,
    event: {
      customerId: 'cus_bf01',
      merchantId: 'mer_bf02',
      amountMinor: 200,
      channel: 'atm',
      eventTime: iso(T + 50 * MIN),
    },
    arrival: T + 50 * MIN + 500,
  },
  // Arrives 40 minutes after it happened, after a newer event: applied to windows, not to latest values.
  {
    event: { customerId: 'cus_bf01', merchantId: 'mer_bf01', amountMinor: 300, eventTime: iso(T + 30 * MIN) },
    arrival: T + 70 * MIN,
  },
  {
    event: {
      customerId: 'cus_bf02',
      merchantId: 'mer_bf01',
      amountMinor: 400,
      customerEmail: 'x@example.ae',
      eventTime: iso(T + 2 * 60 * MIN),
    },
    arrival: T + 2 * 60 * MIN + 100,
  },
  {
    event: {
      customerId: 'cus_bf02',
      merchantId: 'mer_bf02',
      amountMinor: 500,
      mcc: '5411',
      cardPresent: false,
      eventTime: iso(T + 3 * 60 * MIN),
    },
    arrival: T + 3 * 60 * MIN + 100,
  },
];
const entities: [FeatureGroup, string][] = [
  [customer, 'cus_bf01'],
  [customer, 'cus_bf02'],
  [merchant, 'mer_bf01'],
  [merchant, 'mer_bf02'],
];

describe('backfill from the raw events', () => {
  const standIns = inject('standIns');
  let res: TestResources;
  let online: DynamoDbEntityStore;
  const reference = new InMemoryEntityStore();

  beforeAll(async () => {
    res = await provisionTestResources(standIns);
    online = new DynamoDbEntityStore({ tableName: res.names.onlineTable, client: res.dynamodb });
    await putBatches(res.s3, res.names.offlineBucket, await offlineBatchesOf(steps, { entities: reference }));
  });
  afterAll(() => {
    res?.s3.destroy();
    res?.dynamodb.destroy();
    res?.kinesis.destroy();
  });

  const run = (store: EntityStore, from = D0, to = D1) =>
    backfill(
      { contract: transactionContract, from, to, batchSize: 2 },
      { rawEvents: new S3ObjectStore({ bucket: res.names.offlineBucket, client: res.s3 }), entities: store },
    );
  const view = async (store: EntityStore, group: FeatureGroup, id: string) => {
    const [stored] = await store.load([{ group: group.name, entityId: id }]);
    const s = stored?.state;
    return {
      latest: s?.latest,
      maxEventTime: s?.maxEventTime,
      windows: s ? evaluateWindows(group, s.tiles, T + 4 * 60 * MIN) : undefined,
    };
  };

  it('rebuilds the online values and windows the stream computed, PII tokens and contract versions kept', async () => {
    const report = await run(online);

    expect(report).toMatchObject({ shardId: 'backfill-transaction', events: 5, partitions: 2 });
    expect(report.outcomes).toEqual({ applied: 5, duplicate: 0, quarantined: 0, late: 0 });
    for (const [group, id] of entities)
      expect(await view(online, group, id)).toEqual(await view(reference, group, id));
    const bf02 = await view(online, customer, 'cus_bf02');
    expect(String(bf02.latest?.values.email)).toMatch(/^tok_/);
    expect((await view(online, customer, 'cus_bf01')).latest?.contractVersion).toBe(1);
  });

  it('writes nothing when run again', async () => {
    const before = online.consumedWriteUnits;
    const versions = async () =>
      Promise.all(
        entities.map(async ([g, id]) => (await online.load([{ group: g.name, entityId: id }]))[0]?.version),
      );
    const v0 = await versions();

    await run(online);

    expect(online.consumedWriteUnits).toBe(before);
    expect(await versions()).toEqual(v0);
  });

  it('never overwrites a fresher online value, and leaves events past the lateness horizon out', async () => {
    const store = new InMemoryEntityStore();
    const fresh = transaction({
      customerId: 'cus_bf03',
      merchantId: 'mer_bf03',
      amountMinor: 999,
      eventTime: iso(T + 26 * 60 * MIN),
    });
    await processBatch(inputRecords([envelope(fresh)], { arrivalTime: T + 26 * 60 * MIN + 100 }), {
      contracts,
      groupsFedBy,
      entities: store,
      offline: new InMemoryOfflineSink(),
      sideOutput: new InMemorySideOutput(),
    });
    const older: Step[] = [
      // A day older: beyond it, late.
      {
        event: {
          customerId: 'cus_bf03',
          merchantId: 'mer_bf03',
          amountMinor: 2,
          eventTime: iso(T + 60 * MIN),
        },
        arrival: T + 60 * MIN,
      },
      // Within the lateness horizon of the fresher event: counted in windows, not the latest value.
      {
        event: {
          customerId: 'cus_bf03',
          merchantId: 'mer_bf03',
          amountMinor: 1,
          eventTime: iso(T + 25 * 60 * MIN + 30 * MIN),
        },
        arrival: T + 25 * 60 * MIN + 30 * MIN,
      },
    ];
    await putBatches(
      res.s3,
      res.names.offlineBucket,
      await offlineBatchesOf(older, { shardId: 'shardId-000000000007' }),
    );

    const report = await run(store, D0, D1);

    const state = store.state('customer', 'cus_bf03');
    expect(state?.latest?.values.last_amount_minor).toBe(999);
    expect(evaluateWindows(customer, state?.tiles ?? {}, T + 27 * 60 * MIN).txn_count_24h).toBe(2);
    expect(report.outcomes.late).toBeGreaterThanOrEqual(1);
  });
});
