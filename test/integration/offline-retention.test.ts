/**
 * Offline retention on s3rver: the partitions of the feature history and the raw events dated
 * before the cutoff go, whatever their objects' age; newer partitions, erasure records and other
 * prefixes stay. The deployed handler reads its bucket and period from its environment.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHandler, expirePartitions, retentionCutoff } from '../../lambdas/retention/handler.js';
import { provisionTestResources, type TestResources } from '../support/aws-resources.js';
import { listKeys } from '../support/s3.js';

describe('offline retention', () => {
  const standIns = inject('standIns');
  let res: TestResources;
  const put = (key: string) =>
    res.s3.send(new PutObjectCommand({ Bucket: res.names.offlineBucket, Key: key, Body: 'x' }));
  const keys = () => listKeys(res.s3, res.names.offlineBucket);

  beforeAll(async () => {
    res = await provisionTestResources(standIns);
  });
  afterAll(() => {
    res?.s3.destroy();
    res?.dynamodb.destroy();
    res?.kinesis.destroy();
  });

  it('deletes the dataset partitions dated before the cutoff, and nothing else', async () => {
    const old = [
      'features/group=customer/dt=2026-01-01/a.parquet',
      'features/group=customer/dt=2026-01-31/b.parquet',
      'features/group=merchant/dt=2026-01-15/c.parquet',
      'events/contract=transaction/dt=2026-01-02/d.parquet',
    ];
    const kept = [
      'features/group=customer/dt=2026-02-01/e.parquet',
      'events/contract=transaction/dt=2026-03-01/f.parquet',
      'audit/erasure/2026-01-01/r.json',
      'notes/dt=2020-01-01/x.txt',
    ];
    for (const key of [...old, ...kept]) await put(key);

    const report = await expirePartitions(res.s3, res.names.offlineBucket, '2026-02-01');

    expect(report.objectsDeleted).toBe(4);
    expect([...report.partitions].sort()).toEqual(old.map((k) => k.slice(0, k.lastIndexOf('/') + 1)).sort());
    expect((await keys()).sort()).toEqual([...kept].sort());
    // Again: nothing more is due.
    expect((await expirePartitions(res.s3, res.names.offlineBucket, '2026-02-01')).objectsDeleted).toBe(0);
  });

  it('stops at its time limit between pages, incomplete, and the next run goes on', async () => {
    await put('events/contract=transaction/dt=2025-12-01/i.parquet');
    await put('events/contract=transaction/dt=2025-12-02/j.parquet');
    let pages = 0;
    const first = await expirePartitions(res.s3, res.names.offlineBucket, '2026-01-01', {
      timeLeft: () => pages++ < 1,
    });
    expect(first).toMatchObject({ complete: false, objectsDeleted: 1 });
    expect(await expirePartitions(res.s3, res.names.offlineBucket, '2026-01-01')).toMatchObject({
      complete: true,
      objectsDeleted: 1,
    });
    expect((await keys()).filter((k) => k.includes('dt=2025-12'))).toEqual([]);
  });

  it('runs from its environment: the bucket, and the period counted back from today', async () => {
    await put('features/group=customer/dt=2026-02-10/g.parquet');
    await put('features/group=customer/dt=2026-02-11/h.parquet');
    process.env.OFFLINE_BUCKET = res.names.offlineBucket;
    process.env.OFFLINE_RETENTION_DAYS = '30';
    try {
      const now = Date.parse('2026-03-13T05:00:00Z'); // 30 days back: 2026-02-11
      expect(retentionCutoff(now, 30)).toBe('2026-02-11');
      const report = await createHandler(
        () => res.s3,
        () => now,
      )();
      // The first test's 2026-02-01 goes now too; 2026-02-11 is the first day kept.
      expect(report.partitions).toEqual([
        'features/group=customer/dt=2026-02-01/',
        'features/group=customer/dt=2026-02-10/',
      ]);
      expect(await keys()).toContain('features/group=customer/dt=2026-02-11/h.parquet');
    } finally {
      delete process.env.OFFLINE_BUCKET;
      delete process.env.OFFLINE_RETENTION_DAYS;
    }
  });
});
