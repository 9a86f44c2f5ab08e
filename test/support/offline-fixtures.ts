/**
 * Offline-store fixtures made the way the platform makes them: events go through the real
 * processor core (`processBatch`, in-memory stores), and the offline batches it emits are written
 * as the S3 sink writes them (same keys, same Parquet writer). Each step is its own batch, with the
 * arrival time the test gives it, so ingestion time is under the test's control.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import { toParquet } from '../../lambdas/adapters/parquet.js';
import { offlineObjectKey } from '../../lambdas/adapters/s3-offline-sink.js';
import { cellsOf, type OfflineBatch, rowsOf } from '../../lambdas/core/ports.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import type { OfflineColumn } from '../../schemas/index.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { envelope, FIRST_SEQUENCE, inputRecords, type TransactionFields, transaction } from './records.js';

export interface Step {
  readonly event: Partial<TransactionFields> & { mcc?: string; cardPresent?: boolean };
  /** Arrival in the stream (ingestion time), epoch ms. */
  readonly arrival: number;
  /** Contract version the producer sent. @default 2 */
  readonly version?: 1 | 2;
  /** What the processor must make of it. @default 'applied' */
  readonly outcome?: 'applied' | 'late' | 'duplicate';
}

export const at = (iso: string): number => Date.parse(iso);

/** Runs the steps through the processor core, one batch each, and returns every offline batch it wrote. */
export async function offlineBatchesOf(
  steps: readonly Step[],
  options: { shardId?: string; entities?: InMemoryEntityStore } = {},
): Promise<OfflineBatch[]> {
  const shardId = options.shardId ?? 'shardId-000000000000';
  const offline = new InMemoryOfflineSink();
  const deps = {
    contracts,
    groupsFedBy,
    entities: options.entities ?? new InMemoryEntityStore(),
    offline,
    sideOutput: new InMemorySideOutput(),
    sleep: async () => {},
  };
  for (const [i, step] of steps.entries()) {
    const event = transaction(step.event as Partial<TransactionFields>);
    const records = inputRecords([envelope(event, 'transaction', step.version ?? 2)], {
      shardId,
      firstSequence: FIRST_SEQUENCE + BigInt(i) * 1000n,
      arrivalTime: step.arrival,
    });
    const result = await processBatch(records, deps);
    if (result.failed.length > 0) throw new Error(`fixture step ${i} failed: ${result.errors.join('; ')}`);
    const outcome = result.outcomes.get(records[0]?.recordId ?? '');
    if (outcome !== (step.outcome ?? 'applied')) throw new Error(`fixture step ${i} was ${outcome}`);
  }
  return [...offline.objects.values()];
}

/** An offline object as the sink names and writes it; `columns` overrides the dataset's (an older schema). */
export const objectOf = (batch: OfflineBatch, columns?: readonly OfflineColumn[]) => ({
  key: offlineObjectKey(batch),
  // An older schema takes the columns it names, by name.
  body: toParquet(columns ?? batch.columns, columns ? cellsOf(columns, rowsOf(batch)) : batch.cells, {
    dataset: batch.prefix,
  }),
});

export async function putBatches(
  s3: S3Client,
  bucket: string,
  batches: readonly OfflineBatch[],
  columns?: (b: OfflineBatch) => readonly OfflineColumn[] | undefined,
): Promise<string[]> {
  const keys: string[] = [];
  for (const b of batches) {
    const { key, body } = objectOf(b, columns?.(b));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    keys.push(key);
  }
  return keys;
}

/** Writes the batches under `dir` (keys as paths); returns the paths. */
export function writeBatches(dir: string, batches: readonly OfflineBatch[]): string[] {
  return batches.map((b) => {
    const { key, body } = objectOf(b);
    const path = join(dir, key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, body);
    return path;
  });
}

/** A label file as CSV. */
export function labelsCsv(rows: readonly Record<string, string | number>[]): string {
  const columns = Object.keys(rows[0] ?? {});
  return `${[columns.join(','), ...rows.map((r) => columns.map((c) => String(r[c] ?? '')).join(','))].join('\n')}\n`;
}
