/**
 * PutRecords in chunks of at most 500 records / 5 MiB, retrying only the records a partial
 * failure rejected, with backoff. (Issue 4 grows this into the typed producer client.)
 */
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';

const MAX_RECORDS = 500;
const MAX_BYTES = 5 * 1024 * 1024;

export interface SendResult {
  readonly sent: number;
  /** Records still rejected after every retry, with the service's error code. */
  readonly unsent: readonly { readonly index: number; readonly errorCode: string }[];
}

function* chunks(entries: readonly PutRecordsRequestEntry[]): Generator<number[]> {
  let current: number[] = [];
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as PutRecordsRequestEntry;
    const size = (e.Data?.byteLength ?? 0) + Buffer.byteLength(e.PartitionKey ?? '');
    if (current.length === MAX_RECORDS || (current.length > 0 && bytes + size > MAX_BYTES)) {
      yield current;
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += size;
  }
  if (current.length) yield current;
}

export async function sendRecords(
  kinesis: KinesisClient,
  streamName: string,
  entries: readonly PutRecordsRequestEntry[],
  onProgress: (sent: number) => void = () => {},
  maxAttempts = 6,
): Promise<SendResult> {
  let sent = 0;
  const unsent: { index: number; errorCode: string }[] = [];
  for (const chunk of chunks(entries)) {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const out = await kinesis.send(
        new PutRecordsCommand({
          StreamName: streamName,
          Records: pending.map((i) => entries[i] as PutRecordsRequestEntry),
        }),
      );
      const failed: { index: number; errorCode: string }[] = [];
      (out.Records ?? []).forEach((r, j) => {
        if (r.ErrorCode) failed.push({ index: pending[j] as number, errorCode: r.ErrorCode });
      });
      sent += pending.length - failed.length;
      onProgress(sent);
      if (failed.length === 0) break;
      if (attempt >= maxAttempts) {
        unsent.push(...failed);
        break;
      }
      pending = failed.map((f) => f.index);
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(2000, 50 * 2 ** attempt)));
    }
  }
  return { sent, unsent };
}
