/**
 * Compaction on s3rver: a partition's small objects (one per processor batch, plus a redelivered
 * copy) become objects of about the target size, one row per event, and every reader sees the same
 * data before and after; an interrupted run is finished by the next one.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toParquet } from '../../lambdas/adapters/parquet.js';
import { cellsOf } from '../../lambdas/core/ports.js';
import { compactDataset, partitionHealth } from '../../offline/compaction/compact.js';
import { DuckDbSession } from '../../offline/duckdb.js';
import { allDatasets, eventsDataset, historyDataset } from '../../offline/layout.js';
import type { ObjectStore } from '../../offline/storage/object-store.js';
import { S3ObjectStore } from '../../offline/storage/s3-object-store.js';
import { buildTrainingSet } from '../../offline/training/run.js';
import { customer } from '../../schemas/customer.features.js';
import { eventColumns } from '../../schemas/index.js';
import { transaction as transactionContract } from '../../schemas/transaction.contract.js';
import { provisionTestResources, type TestResources } from '../support/aws-resources.js';
import { at, labelsCsv, offlineBatchesOf, putBatches, type Step } from '../support/offline-fixtures.js';
import { listKeys } from '../support/s3.js';

const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const NOW = () => at('2026-07-10T12:00:00Z');

/** `n` events of a few customers on one day, each its own processor batch (one object per dataset each). */
const day = (date: string, n: number, tag: string): Step[] =>
  Array.from({ length: n }, (_, i) => {
    const t = at(`${date}T08:00:00Z`) + i * 7 * MIN;
    return {
      event: {
        customerId: `cus_${tag}${i % 4}`,
        merchantId: `mer_${tag}${i % 3}`,
        amountMinor: 100 + i,
        eventTime: iso(t),
      },
      arrival: t + 1000,
    };
  });

describe('compaction of the offline store', () => {
  const standIns = inject('standIns');
  let res: TestResources;
  let store: S3ObjectStore;
  const dir = mkdtempSync(join(tmpdir(), 'fp-compact-'));

  const keysOf = (prefix: string) => listKeys(res.s3, res.names.offlineBucket, prefix);
  const training = async (name: string) => {
    const labelsPath = join(dir, 'labels.csv');
    writeFileSync(
      labelsPath,
      labelsCsv(
        [0, 1, 2, 3].flatMap((c) =>
          ['2026-07-01T09:00:00Z', '2026-07-01T12:00:00Z'].map((t) => ({
            customer_id: `cus_cmp${c}`,
            label_time: t,
          })),
        ),
      ),
    );
    const outPath = join(dir, `${name}.parquet`);
    await buildTrainingSet({
      labelsPath,
      outPath,
      store,
      request: {
        features: ['customer:last_amount_minor', 'customer:txn_count_1h', 'customer:amount_sum_24h'],
      },
    });
    const session = await DuckDbSession.open({ threads: 1 });
    const rows = await session.rows(`SELECT * FROM read_parquet('${outPath}')`);
    session.close();
    return rows;
  };

  beforeAll(async () => {
    res = await provisionTestResources(standIns);
    store = new S3ObjectStore({ bucket: res.names.offlineBucket, client: res.s3 });
    await putBatches(res.s3, res.names.offlineBucket, await offlineBatchesOf(day('2026-07-01', 30, 'cmp')));
    await putBatches(
      res.s3,
      res.names.offlineBucket,
      await offlineBatchesOf(day('2026-07-09', 3, 'yng'), { shardId: 'shardId-000000000003' }),
    );
    // A batch redelivered with other boundaries: the same rows again under another key.
    const [first] = await keysOf('features/group=customer/dt=2026-07-01/');
    await res.s3.send(
      new CopyObjectCommand({
        Bucket: res.names.offlineBucket,
        CopySource: `${res.names.offlineBucket}/${first}`,
        Key: (first as string).replace('.parquet', '-redelivered.parquet'),
      }),
    );
  });
  afterAll(() => {
    res?.s3.destroy();
    res?.dynamodb.destroy();
    res?.kinesis.destroy();
  });

  it('merges an old partition into one object per dataset, one row per event, readers seeing the same data', async () => {
    const before = await training('before');
    expect(await keysOf('features/group=customer/dt=2026-07-01/')).toHaveLength(31);

    const merged = [];
    for (const d of allDatasets()) merged.push(...(await compactDataset(store, d, { now: NOW })));

    expect(
      merged.map((m) => [m.dataset, m.dt, m.inputObjects, m.outputObjects, m.rowsIn, m.rowsOut]),
    ).toEqual([
      ['features/customer', '2026-07-01', 31, 1, 31, 30],
      ['features/merchant', '2026-07-01', 30, 1, 30, 30],
      ['events/transaction', '2026-07-01', 30, 1, 30, 30],
    ]);
    expect(await keysOf('features/group=customer/dt=2026-07-01/')).toEqual([
      expect.stringMatching(/dt=2026-07-01\/compacted-[0-9a-f]{16}-0\.parquet$/),
    ]);
    expect(await training('after')).toEqual(before);
    expect(before.filter((r) => r.customer__last_amount_minor !== null)).toHaveLength(8);
  });

  it('leaves young partitions and already compacted ones alone', async () => {
    expect(await keysOf('features/group=customer/dt=2026-07-09/')).toHaveLength(3);
    expect(await compactDataset(store, historyDataset(customer), { now: NOW })).toEqual([]);
    expect(await keysOf('features/group=customer/dt=2026-07-09/')).toHaveLength(3);
    const health = await partitionHealth(store, historyDataset(customer));
    expect(health.map((h) => [h.dt, h.objects, h.smallObjects])).toEqual([
      ['2026-07-01', 1, 0],
      ['2026-07-09', 3, 3],
    ]);
  });

  it('splits a partition into objects of about the target size', async () => {
    // 12,000 raw events in twelve objects (row groups hold at least 2,048 rows, so a split needs more).
    const base = at('2026-07-02T00:00:00Z');
    for (let o = 0; o < 12; o++) {
      const rows = Array.from({ length: 1_000 }, (_, i) => {
        const n = o * 1_000 + i;
        return {
          event_id: `evt_split_${String(n).padStart(6, '0')}`,
          event_time: base + n * 5_000,
          ingestion_time: base + n * 5_000 + 300,
          contract_version: 2,
          customer_id: `cus_spl${n % 97}`,
          merchant_id: `mer_spl${n % 13}`,
          amount_minor: (n * 7919) % 100_000,
          currency: 'AED',
          country: 'AE',
          channel: 'pos',
          customer_email: `tok_${String(n).padStart(32, '0')}`,
        };
      });
      await res.s3.send(
        new PutObjectCommand({
          Bucket: res.names.offlineBucket,
          Key: `events/contract=transaction/dt=2026-07-02/shardId-000000000001-${o}.parquet`,
          Body: toParquet(
            eventColumns(transactionContract),
            cellsOf(eventColumns(transactionContract), rows),
          ),
        }),
      );
    }
    const inputs = await store.list('events/contract=transaction/dt=2026-07-02/');
    const target = 4 * Math.max(...inputs.map((o) => o.size));

    const [m] = await compactDataset(store, eventsDataset(transactionContract), {
      now: NOW,
      targetBytes: target,
      rowGroupRows: 2_048,
      dates: new Set(['2026-07-02']),
    });

    expect(m?.rowsOut).toBe(12_000);
    const sizes = (await store.list('events/contract=transaction/dt=2026-07-02/')).map((o) => o.size);
    expect(sizes.length).toBeGreaterThan(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(m?.outputBytes);
    for (const size of sizes) expect(size).toBeLessThan(3 * target);
  });

  it('finishes a run that stopped after writing its outputs and before deleting its inputs', async () => {
    await putBatches(res.s3, res.names.offlineBucket, await offlineBatchesOf(day('2026-07-03', 5, 'crs')));
    const prefix = 'features/group=customer/dt=2026-07-03/';
    const crashing: ObjectStore = {
      name: store.name,
      list: (p) => store.list(p),
      get: (k) => store.get(k),
      put: (k, b, t, o) => store.put(k, b, t, o),
      metadataOf: (k) => store.metadataOf(k),
      purgeNoncurrentVersions: (k) => store.purgeNoncurrentVersions(k),
      delete: async () => {
        throw new Error('crash before the inputs were deleted');
      },
    };
    await expect(
      compactDataset(crashing, historyDataset(customer), { now: NOW, dates: new Set(['2026-07-03']) }),
    ).rejects.toThrow(/crash/);
    expect(await keysOf(prefix)).toHaveLength(6);

    const [m] = await compactDataset(store, historyDataset(customer), {
      now: NOW,
      dates: new Set(['2026-07-03']),
    });

    expect(m?.mode).toBe('finished');
    expect(await keysOf(prefix)).toEqual([expect.stringMatching(/compacted-[0-9a-f]{16}-0\.parquet$/)]);
  });
});
