/**
 * Training sets read the partitions (UTC date of event time) a label can reach: an event stamped
 * after midnight by a producer clock ahead of its arrival, which arrived before a label just before
 * midnight, is visible at that label (as online) and sits in the next day's partition (found on review).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuckDbSession } from '../../offline/duckdb.js';
import { buildTrainingSet } from '../../offline/training/run.js';
import { MemoryObjectStore } from '../support/memory-object-store.js';
import { at, labelsCsv, objectOf, offlineBatchesOf } from '../support/offline-fixtures.js';

describe('training-set partitions around midnight', () => {
  it('reads the partition of an event stamped after midnight that arrived before a label just before it', async () => {
    // 23:59:00 arrival, stamped 00:03:00 the next day (4 min ahead: within the contract's 5 min skew).
    const batches = await offlineBatchesOf([
      {
        event: { customerId: 'cus_mdnt1', amountMinor: 100, eventTime: '2026-10-07T23:50:00Z' },
        arrival: at('2026-10-07T23:50:01Z'),
      },
      {
        event: { customerId: 'cus_mdnt1', amountMinor: 300, eventTime: '2026-10-08T00:03:00Z' },
        arrival: at('2026-10-07T23:59:00Z'),
      },
    ]);
    const store = new MemoryObjectStore();
    for (const b of batches) {
      const { key, body } = objectOf(b);
      store.objects.set(key, body);
    }
    const dir = mkdtempSync(join(tmpdir(), 'fp-train-midnight-'));
    const labelsPath = join(dir, 'labels.csv');
    const outPath = join(dir, 'out.parquet');
    writeFileSync(labelsPath, labelsCsv([{ customer_id: 'cus_mdnt1', label_time: '2026-10-07T23:59:30Z' }]));
    await buildTrainingSet({
      labelsPath,
      outPath,
      store,
      request: { features: ['customer:last_amount_minor'] },
      duckdb: { threads: 1 },
    });
    const session = await DuckDbSession.open({ threads: 1 });
    let rows: Record<string, unknown>[];
    try {
      rows = await session.rows(`SELECT * FROM read_parquet('${outPath}')`);
    } finally {
      session.close();
    }
    // Online, at 23:59:30 the latest value was the 300 (arrived 23:59:00; spec.ts: visible from its
    // ingestion, whatever its event time). The 00:03 row is in dt=2026-10-08, which readRanges leaves out.
    expect(Number(rows[0]?.customer__last_amount_minor)).toBe(300);
  });
});
