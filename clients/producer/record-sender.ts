/**
 * Encoded records -> Kinesis PutRecords, within the service limits, retrying only what failed.
 * No validation of the payload: `FeatureEventProducer` validates events; `sendRaw` uses this
 * directly for records that are already encoded (the demo sends malformed ones on purpose).
 */
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { ProducerRequestError } from './errors.js';
import { type Backoff, backoffDelay, errorCodeOf, isRetryable } from './retry.js';
import { type Failure, type Pending, SendSchedule } from './schedule.js';
import type { RawRecord, Rejected, SendOptions, SendReport } from './types.js';

/** PutRecords limits (Kinesis API reference): records and bytes per request, bytes per record. */
export const KINESIS_LIMITS = {
  recordsPerRequest: 500,
  bytesPerRequest: 5 * 1024 * 1024,
  /** Data plus partition key. */
  bytesPerRecord: 1024 * 1024,
  partitionKeyChars: 256,
} as const;

export type Ordering = 'batched' | 'strict';

export interface RecordSenderProps {
  readonly kinesis: () => KinesisClient;
  readonly streamName: string;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly ordering: Ordering;
  readonly sleep: (ms: number) => Promise<void>;
}

/** What counts against the request and record limits: data bytes plus the partition key's UTF-8 bytes. */
export const recordSize = (r: RawRecord): number => r.data.byteLength + Buffer.byteLength(r.partitionKey);

/** Why Kinesis would refuse the record whatever the retry, or undefined. */
export function recordProblem(r: RawRecord): string | undefined {
  const chars = [...r.partitionKey].length;
  if (chars < 1 || chars > KINESIS_LIMITS.partitionKeyChars) {
    return `partition key must be 1 to ${KINESIS_LIMITS.partitionKeyChars} characters (has ${chars})`;
  }
  const size = recordSize(r);
  if (size > KINESIS_LIMITS.bytesPerRecord) {
    return `record is ${size} bytes (data + partition key); Kinesis takes at most ${KINESIS_LIMITS.bytesPerRecord}`;
  }
  return undefined;
}

const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;

export class RecordSender {
  constructor(private readonly props: RecordSenderProps) {}

  async send(records: readonly RawRecord[], options: SendOptions = {}): Promise<SendReport> {
    const rejected: Rejected[] = [];
    const entries: Pending[] = [];
    records.forEach((r, index) => {
      const problem = recordProblem(r);
      if (problem) rejected.push({ index, reason: problem, reasons: [problem] });
      else entries.push({ index, key: r.partitionKey, data: r.data, size: recordSize(r), attempts: 0 });
    });
    const schedule = new SendSchedule(entries, {
      maxRecords: KINESIS_LIMITS.recordsPerRequest,
      maxBytes: KINESIS_LIMITS.bytesPerRequest,
      maxAttempts: this.props.maxAttempts,
      strict: this.props.ordering === 'strict',
      maxHeld: 10 * KINESIS_LIMITS.recordsPerRequest,
    });
    const report = (): SendReport => ({
      sent: schedule.sent,
      rejected,
      unsent: [...schedule.unsent].sort(byIndex),
    });
    const progress = () =>
      options.onProgress?.({
        total: records.length,
        sent: schedule.sent,
        rejected: rejected.length,
        unsent: schedule.unsent.length,
      });
    progress();
    while (!schedule.done) {
      const attemptsMade = schedule.retryAttempts;
      if (attemptsMade > 0) await this.props.sleep(backoffDelay(attemptsMade, this.props.backoff));
      const request = schedule.next();
      let failures: Map<Pending, Failure>;
      try {
        failures = await this.#put(request);
      } catch (error) {
        throw new ProducerRequestError(
          `PutRecords to stream ${this.props.streamName} failed: ${errorCodeOf(error)}: ${(error as Error)?.message ?? error}`,
          report(),
          { cause: error },
        );
      }
      schedule.settle(request, failures);
      progress();
    }
    return report();
  }

  /** One PutRecords call -> the records that failed; throws only what no retry can fix. */
  async #put(request: readonly Pending[]): Promise<Map<Pending, Failure>> {
    const failures = new Map<Pending, Failure>();
    const all = (failure: Failure) => {
      for (const p of request) failures.set(p, failure);
      return failures;
    };
    let results: { SequenceNumber?: string; ErrorCode?: string; ErrorMessage?: string }[];
    try {
      const out = await this.props.kinesis().send(
        new PutRecordsCommand({
          StreamName: this.props.streamName,
          Records: request.map((p) => ({ PartitionKey: p.key, Data: p.data })),
        }),
      );
      results = out.Records ?? [];
    } catch (error) {
      if (!isRetryable(error)) throw error;
      return all({ code: errorCodeOf(error), message: (error as Error)?.message });
    }
    if (results.length !== request.length) {
      // Cannot tell which were written: send all again; the event ids make the copies harmless.
      return all({
        code: 'InvalidResponse',
        message: `${results.length} results for ${request.length} records`,
      });
    }
    results.forEach((r, i) => {
      // Success carries a sequence number; anything else did not reach the stream as far as we know.
      if (r.ErrorCode || !r.SequenceNumber) {
        failures.set(request[i] as Pending, {
          code: r.ErrorCode ?? 'InvalidResponse',
          message: r.ErrorMessage ?? (r.ErrorCode ? undefined : 'no sequence number in the result'),
        });
      }
    });
    return failures;
  }
}
