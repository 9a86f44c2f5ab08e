/**
 * A file of events through a producer: read every row, send the readable ones (the producer
 * validates them), and account for every row as sent, rejected (with its line and reasons) or
 * unsent (with its line and the last error code).
 */
import type { z } from 'zod';
import type { FeatureEventProducer } from '../feature-event-producer.js';
import { readRows } from './read-rows.js';
import type { SendProgress } from './types.js';

export interface RejectEntry {
  readonly line: number;
  readonly reasons: readonly string[];
  /** The row as it is in the file. */
  readonly row: unknown;
}

export interface UnsentEntry {
  readonly line: number;
  readonly errorCode: string;
}

export interface IngestResult {
  readonly read: number;
  readonly sent: number;
  /** In file order. */
  readonly rejects: readonly RejectEntry[];
  /** In file order. */
  readonly unsent: readonly UnsentEntry[];
}

export async function ingestFile(
  file: string,
  producer: FeatureEventProducer<z.ZodObject>,
  options: { onRead?: (rows: number) => void; onProgress?: (p: SendProgress) => void } = {},
): Promise<IngestResult> {
  const rows = await readRows(file, producer.contract);
  options.onRead?.(rows.length);
  const unreadable: RejectEntry[] = [];
  const readable: typeof rows = [];
  for (const row of rows) {
    if (row.event) readable.push(row);
    else unreadable.push({ line: row.line, reasons: [row.error ?? 'unreadable'], row: row.original });
  }
  const report = await producer.send(
    readable.map((r) => r.event as z.input<z.ZodObject>),
    {
      onProgress: (p) =>
        options.onProgress?.({ ...p, total: rows.length, rejected: p.rejected + unreadable.length }),
    },
  );
  const lineOf = (index: number) => readable[index]?.line as number;
  const rejects = [
    ...unreadable,
    ...report.rejected.map((r) => ({
      line: lineOf(r.index),
      reasons: r.reasons,
      row: readable[r.index]?.original,
    })),
  ].sort((a, b) => a.line - b.line);
  return {
    read: rows.length,
    sent: report.sent,
    rejects,
    unsent: report.unsent.map((u) => ({ line: lineOf(u.index), errorCode: u.errorCode })),
  };
}
