/**
 * Training sets end to end on the stand-ins: feature history and raw events written the way the
 * processor writes them (real core, real Parquet writer, real S3 keys on s3rver), fetched by the
 * training-set job, joined by DuckDB, read back from the output Parquet file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import { rowsOf } from '../../lambdas/core/ports.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import { DuckDbSession } from '../../offline/duckdb.js';
import { S3ObjectStore } from '../../offline/storage/s3-object-store.js';
import { buildTrainingSet } from '../../offline/training/run.js';
import type { WindowSemantics } from '../../offline/training/spec.js';
import { customer } from '../../schemas/customer.features.js';
import { contracts, groupsFedBy, offlineColumns } from '../../schemas/index.js';
import { provisionTestResources, type TestResources } from '../support/aws-resources.js';
import { at, labelsCsv, offlineBatchesOf, putBatches, type Step } from '../support/offline-fixtures.js';
import { envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
type Row = Record<string, unknown>;

describe('training sets from the offline store', () => {
  const standIns = inject('standIns');
  let res: TestResources;
  let store: S3ObjectStore;
  const dir = mkdtempSync(join(tmpdir(), 'fp-train-'));
  let n = 0;

  beforeAll(async () => {
    res = await provisionTestResources(standIns);
    store = new S3ObjectStore({ bucket: res.names.offlineBucket, client: res.s3 });
  });
  afterAll(() => {
    res?.s3.destroy();
    res?.dynamodb.destroy();
    res?.kinesis.destroy();
  });

  const load = async (steps: readonly Step[]) =>
    putBatches(res.s3, res.names.offlineBucket, await offlineBatchesOf(steps));

  const train = async (
    labels: readonly Record<string, string | number>[],
    features: readonly string[],
    options: { windows?: WindowSemantics; timeColumn?: string; entityColumns?: Record<string, string> } = {},
  ): Promise<Row[]> => {
    n++;
    const labelsPath = join(dir, `labels-${n}.csv`);
    const outPath = join(dir, `train-${n}.parquet`);
    writeFileSync(labelsPath, labelsCsv(labels));
    await buildTrainingSet({
      labelsPath,
      outPath,
      store,
      request: { features, ...options },
      duckdb: { threads: 2 },
    });
    const session = await DuckDbSession.open({ threads: 1 });
    try {
      const rows = await session.rows(`SELECT * FROM read_parquet('${outPath}')`);
      return rows.map((r) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
      );
    } finally {
      session.close();
    }
  };

  it('never gives a value that arrived after the label time, even when its event time is earlier', async () => {
    await load([
      {
        event: { customerId: 'cus_leak1', amountMinor: 100, eventTime: '2026-10-01T10:00:00Z' },
        arrival: at('2026-10-01T10:00:05Z'),
      },
      // Happened at 10:20, arrived at 11:00 (within the allowed lateness): unknowable before 11:00.
      {
        event: { customerId: 'cus_leak1', amountMinor: 200, eventTime: '2026-10-01T10:20:00Z' },
        arrival: at('2026-10-01T11:00:00Z'),
      },
    ]);

    const rows = await train(
      [
        { customer_id: 'cus_leak1', label_time: '2026-10-01T09:59:00Z' },
        { customer_id: 'cus_leak1', label_time: '2026-10-01T10:00:00Z' },
        { customer_id: 'cus_leak1', label_time: '2026-10-01T10:10:00Z' },
        { customer_id: 'cus_leak1', label_time: '2026-10-01T10:30:00Z' },
        { customer_id: 'cus_leak1', label_time: '2026-10-01T11:00:00Z' },
      ],
      ['customer:last_amount_minor'],
    );

    // 10:00:00: the first event happened but had not arrived (ingested 10:00:05).
    expect(rows.map((r) => r.customer__last_amount_minor)).toEqual([null, null, 100, 100, 200]);
  });

  it('keeps the newer event when an older one arrives later, as the online store does', async () => {
    await load([
      {
        event: { customerId: 'cus_ooo2', amountMinor: 5, eventTime: '2026-10-02T10:30:00Z' },
        arrival: at('2026-10-02T10:30:01Z'),
      },
      {
        event: { customerId: 'cus_ooo2', amountMinor: 4, eventTime: '2026-10-02T10:00:00Z' },
        arrival: at('2026-10-02T10:45:00Z'),
      },
    ]);
    const rows = await train(
      [
        { customer_id: 'cus_ooo2', label_time: '2026-10-02T10:40:00Z' },
        { customer_id: 'cus_ooo2', label_time: '2026-10-02T11:00:00Z' },
      ],
      ['customer:last_amount_minor'],
    );
    expect(rows.map((r) => r.customer__last_amount_minor)).toEqual([5, 5]);
  });

  it.each([
    ['gives a value a minute inside the TTL', 30 * DAY - MIN, 7],
    ['expires a value exactly at the TTL, as the lookup API does', 30 * DAY, null],
    ['expires a value past the TTL', 31 * DAY, null],
  ])('%s', async (_, offset, expected) => {
    const t = at('2026-09-01T00:00:00Z');
    await load([
      { event: { customerId: 'cus_ttl1', amountMinor: 7, eventTime: new Date(t).toISOString() }, arrival: t },
    ]);
    const rows = await train(
      [{ customer_id: 'cus_ttl1', label_time: new Date(t + offset).toISOString() }],
      ['customer:last_amount_minor'],
    );
    expect(rows[0]?.customer__last_amount_minor).toBe(expected);
  });

  it('gives nulls for an entity never seen and for a label row without an entity id, keeping every label row', async () => {
    const rows = await train(
      [
        { customer_id: 'cus_nobody9', label_time: '2026-10-01T12:00:00Z', is_fraud: 1 },
        { customer_id: '', label_time: '2026-10-01T12:00:00Z', is_fraud: 0 },
        { customer_id: 'cus_leak1', label_time: '2026-10-01T12:00:00Z', is_fraud: 1 },
      ],
      ['customer:last_amount_minor', 'customer:txn_count_24h'],
    );
    expect(rows.map((r) => [r.is_fraud, r.customer__last_amount_minor, r.customer__txn_count_24h])).toEqual([
      [1, null, null],
      [0, null, null],
      [1, 200, 2],
    ]);
  });

  it('joins several groups, each on its own entity column and TTL, labels passed through in order', async () => {
    await load([
      {
        event: {
          customerId: 'cus_mgr1',
          merchantId: 'mer_mgr1',
          amountMinor: 10,
          country: 'AE',
          eventTime: '2026-10-03T09:00:00Z',
        },
        arrival: at('2026-10-03T09:00:01Z'),
      },
      {
        event: {
          customerId: 'cus_mgr2',
          merchantId: 'mer_mgr1',
          amountMinor: 20,
          country: 'SA',
          eventTime: '2026-10-03T09:30:00Z',
        },
        arrival: at('2026-10-03T09:30:01Z'),
      },
    ]);
    const rows = await train(
      [
        { cust: 'cus_mgr1', merchant_id: 'mer_mgr1', label_time: '2026-10-03T09:45:00Z', y: 'a' },
        { cust: 'cus_mgr1', merchant_id: 'mer_mgr1', label_time: '2026-10-03T09:15:00Z', y: 'b' },
        { cust: 'cus_mgr2', merchant_id: 'mer_mgr1', label_time: '2026-10-12T09:00:00Z', y: 'c' },
      ],
      ['merchant:last_customer_country', 'customer:last_amount_minor', 'merchant:last_amount_minor'],
      { entityColumns: { customer_id: 'cust' } },
    );
    expect(Object.keys(rows[0] ?? {})).toEqual([
      'cust',
      'merchant_id',
      'label_time',
      'y',
      'merchant__last_customer_country',
      'customer__last_amount_minor',
      'merchant__last_amount_minor',
    ]);
    expect(
      rows.map((r) => [
        r.y,
        r.merchant__last_customer_country,
        r.customer__last_amount_minor,
        r.merchant__last_amount_minor,
      ]),
    ).toEqual([
      ['a', 'SA', 10, 20],
      ['b', 'AE', 10, 10],
      // 9 days on: the merchant's 7-day TTL has passed, the customer's 30-day one has not.
      ['c', null, 20, null],
    ]);
  });

  it('reads contract versions side by side: a column an older file lacks is null for its rows', async () => {
    const batches = await offlineBatchesOf([
      {
        version: 1,
        event: { customerId: 'cus_ver1', channel: 'ecommerce', eventTime: '2026-10-04T08:00:00Z' },
        arrival: at('2026-10-04T08:00:01Z'),
      },
      {
        version: 2,
        event: {
          customerId: 'cus_ver1',
          channel: 'pos',
          cardPresent: false,
          mcc: '5411',
          eventTime: '2026-10-04T09:00:00Z',
        },
        arrival: at('2026-10-04T09:00:01Z'),
      },
      {
        version: 1,
        event: { customerId: 'cus_ver2', channel: 'pos', eventTime: '2026-10-04T08:00:00Z' },
        arrival: at('2026-10-04T08:00:01Z'),
      },
    ]);
    // cus_ver1's v1 history was written before the group had last_card_present (an older Parquet schema).
    const older = offlineColumns(customer).filter((c) => c.name !== 'last_card_present');
    await putBatches(res.s3, res.names.offlineBucket, batches, (b) =>
      b.prefix === 'features/group=customer/' &&
      rowsOf(b).some((r) => r.customer_id === 'cus_ver1' && r.contract_version === 1)
        ? older
        : undefined,
    );
    const rows = await train(
      [
        { customer_id: 'cus_ver1', label_time: '2026-10-04T08:30:00Z' },
        { customer_id: 'cus_ver1', label_time: '2026-10-04T09:30:00Z' },
        { customer_id: 'cus_ver2', label_time: '2026-10-04T08:30:00Z' },
      ],
      ['customer:last_channel', 'customer:last_card_present'],
    );
    expect(rows.map((r) => [r.customer__last_channel, r.customer__last_card_present])).toEqual([
      ['ecommerce', null], // written without the column: null
      ['pos', false], // v2 sent it
      ['pos', true], // v1 event, written by today's processor: the contract's v1 upgrade derived it
    ]);
  });

  describe('window aggregates from the raw events', () => {
    const base = at('2026-10-05T10:00:00Z');
    const iso = (ms: number) => new Date(ms).toISOString();
    const steps: Step[] = [
      {
        event: {
          customerId: 'cus_win1',
          merchantId: 'mer_win1',
          amountMinor: 100,
          channel: 'pos',
          eventTime: iso(base),
        },
        arrival: base + 1000,
      },
      {
        event: {
          customerId: 'cus_win1',
          merchantId: 'mer_win2',
          amountMinor: 300,
          channel: 'atm',
          eventTime: iso(base + 20 * MIN),
        },
        arrival: base + 20 * MIN + 1000,
      },
      // Happened at 10:40 but arrived at 11:30.
      {
        event: {
          customerId: 'cus_win1',
          merchantId: 'mer_win2',
          amountMinor: 50,
          channel: 'wallet',
          eventTime: iso(base + 40 * MIN),
        },
        arrival: base + 90 * MIN,
      },
    ];
    const features = [
      'customer:txn_count_1h',
      'customer:amount_sum_24h',
      'customer:amount_mean_24h',
      'customer:amount_max_24h',
      'customer:merchant_distinct_24h',
      'customer:channel_last_1h',
    ];
    const labelTimes = [base + 50 * MIN, base + 80 * MIN, base + 95 * MIN, base + 26 * HOUR, base + 31 * DAY];
    const labels = labelTimes.map((t) => ({ customer_id: 'cus_win1', label_time: iso(t) }));
    const values = (rows: Row[]) => rows.map((r) => features.map((f) => r[f.replace(':', '__')]));
    beforeAll(async () => {
      await load(steps);
    });

    it('counts exactly the window before the label time, a late arrival only once it has arrived', async () => {
      const rows = await train(labels, features, { windows: 'exact' });
      expect(values(rows)).toEqual([
        [2, 400, 200, 300, 2, 'atm'], // 10:50
        [0, 400, 200, 300, 2, null], // 11:20: (10:20, 11:20] is empty; the 10:40 event has not arrived
        [1, 450, 150, 300, 2, 'wallet'], // 11:35: it has
        [0, 0, null, null, 0, null], // a day later: windows empty, the entity within its TTL
        [null, null, null, null, null, null], // past the 30-day TTL: expired, as the lookup API says
      ]);
    });

    it('gives what the online store served at each label time under the tile rule', async () => {
      const rows = await train(labels, features, { windows: 'tile' });
      const online = await Promise.all(
        labelTimes.map(async (t) => {
          const stores = await onlineStateAt(steps, t);
          const latest = stores.state('customer', 'cus_win1')?.latest;
          if (!latest || latest.eventTime + customer.ttlMs <= t) return features.map(() => null);
          const w = evaluateWindows(customer, stores.state('customer', 'cus_win1')?.tiles ?? {}, t);
          return features.map((f) => w[f.split(':')[1] as string] ?? null);
        }),
      );
      expect(values(rows)).toEqual(online);
      expect(values(rows)[1]?.[0]).toBe(1); // 11:20: the 10:20 event's tile reaches into the window
    });
  });
  describe('an event stamped ahead of its arrival (a producer clock ahead, within the skew allowed)', () => {
    const base = at('2026-10-07T10:00:00Z');
    const iso = (ms: number) => new Date(ms).toISOString();
    const event = (amountMinor: number, merchantId: string, channel: string, t: number) => ({
      customerId: 'cus_skew1',
      merchantId,
      amountMinor,
      channel,
      eventTime: iso(t),
    });
    const steps: Step[] = [
      { event: event(100, 'mer_skw1', 'pos', base), arrival: base + 1000 },
      // Stamped 10:02:50, arrived 10:02:05: in the minute tile of 10:02.
      { event: event(300, 'mer_skw2', 'atm', base + 2 * MIN + 50_000), arrival: base + 2 * MIN + 5000 },
      // Stamped 10:03:30, arrived 10:02:40: in the next minute tile.
      { event: event(50, 'mer_skw3', 'wallet', base + 3 * MIN + 30_000), arrival: base + 2 * MIN + 40_000 },
    ];
    const windowed = [
      'customer:txn_count_5m',
      'customer:txn_count_1h',
      'customer:amount_sum_24h',
      'customer:merchant_distinct_24h',
      'customer:channel_last_1h',
    ];
    const features = [...windowed, 'customer:last_amount_minor', 'customer:last_channel'];
    // Before the second arrives; after it, before its stamp; after the third arrives, before its tile;
    // after every stamp.
    const labelTimes = [
      base + 2 * MIN + 2000,
      base + 2 * MIN + 10_000,
      base + 2 * MIN + 45_000,
      base + 4 * MIN,
    ];
    beforeAll(async () => {
      await load(steps);
    });

    it("gives what the online store served at each label time, from each event's arrival", async () => {
      const labels = labelTimes.map((t) => ({ customer_id: 'cus_skew1', label_time: iso(t) }));
      const rows = await train(labels, features, { windows: 'tile' });
      const offline = rows.map((r) => features.map((f) => r[f.replace(':', '__')]));
      const online = await Promise.all(
        labelTimes.map(async (t) => {
          const state = (await onlineStateAt(steps, t)).state('customer', 'cus_skew1');
          const w = evaluateWindows(customer, state?.tiles ?? {}, t);
          return [
            ...windowed.map((f) => w[f.split(':')[1] as string] ?? null),
            state?.latest?.values.last_amount_minor ?? null,
            state?.latest?.values.last_channel ?? null,
          ];
        }),
      );
      expect(offline).toEqual(online);
      expect(offline).toEqual([
        [1, 1, 100, 1, 'pos', 100, 'pos'],
        [2, 2, 400, 2, 'atm', 300, 'atm'], // served from its arrival, though stamped 40 s later
        // The third has arrived: it is in L's 5-minute and hour tiles, not yet in its minute tile.
        [2, 3, 450, 3, 'wallet', 50, 'wallet'],
        [3, 3, 450, 3, 'wallet', 50, 'wallet'],
      ]);
    });
  });
});

/** The online store's state after every step that had arrived by `t`, in arrival order. */
async function onlineStateAt(steps: readonly Step[], t: number): Promise<InMemoryEntityStore> {
  const entities = new InMemoryEntityStore();
  const arrived = [...steps].filter((s) => s.arrival <= t).sort((a, b) => a.arrival - b.arrival);
  for (const [i, step] of arrived.entries()) {
    await processBatch(
      inputRecords([envelope(transaction(step.event), 'transaction', step.version ?? 2)], {
        firstSequence: FIRST_SEQUENCE + BigInt(i) * 1000n,
        arrivalTime: step.arrival,
      }),
      {
        contracts,
        groupsFedBy,
        entities,
        offline: new InMemoryOfflineSink(),
        sideOutput: new InMemorySideOutput(),
      },
    );
  }
  return entities;
}
