/**
 * Reads one shard and hands its records to the function batch after batch, as a Kinesis event
 * source mapping does.
 *
 * One fetch loop calls GetRecords (up to 10,000 records) and deals records into
 * `parallelizationFactor` lanes by a hash of the partition key; each lane gathers a batch (full at
 * `batchSize` records or 6 MB, or when `maxBatchingWindowMs` has passed since its oldest record was
 * read, or at the shard's end) and runs it to completion before its next one. One lane = strict
 * shard order; several lanes = order per partition key, batches of one shard concurrently, as AWS
 * documents for ParallelizationFactor ("Polling and batching streams",
 * https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html: "in-order processing is still
 * guaranteed for each partition key").
 * ExpiredIteratorException re-acquires an iterator after the last record read;
 * ProvisionedThroughputExceeded / LimitExceeded back off and retry. Any other error stops the shard
 * and is reported (never swallowed).
 */
import { createHash } from 'node:crypto';
import {
  type _Record,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamRecord } from 'aws-lambda';
import type { StreamSourceSettings } from '../../lib/platform-spec.js';
import type { FunctionIdentity } from './invocation.js';

/** Lambda's synchronous invocation payload limit (6 MB); a batch stays under it. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** GetRecords' own maximum per call. */
const GET_RECORDS_LIMIT = 10_000;
const THROTTLING = new Set(['ProvisionedThroughputExceededException', 'LimitExceededException']);

/**
 * A Kinesis record as Lambda delivers it (field order and values as in the Lambda Developer Guide's
 * sample Kinesis event, https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html): data in
 * base64, arrival time in epoch seconds with a fraction, eventID `<shardId>:<sequenceNumber>`.
 */
export function toEventRecord(record: _Record, shardId: string, f: FunctionIdentity): KinesisStreamRecord {
  const sequenceNumber = record.SequenceNumber ?? '';
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey ?? '',
      sequenceNumber,
      data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
      approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp ?? new Date()).getTime() / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: `arn:aws:iam::${f.accountId}:role/${f.functionName}-role`,
    awsRegion: f.region,
    eventSourceARN: f.streamArn,
  };
}

/**
 * Resolves true after `ms` (never, if undefined) or once woken through `wakeUp`, and false as soon
 * as `signal` aborts; leaves no timer or listener behind either way.
 */
export function abortableSleep(
  ms: number | undefined,
  signal: AbortSignal,
  wakeUp?: (wake: () => void) => void,
): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (completed: boolean) => () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', aborted);
      resolve(completed);
    };
    const aborted = settle(false);
    if (ms !== undefined) timer = setTimeout(settle(true), Math.max(0, ms));
    signal.addEventListener('abort', aborted, { once: true });
    wakeUp?.(settle(true));
  });
}

export interface ShardPollerProps {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly shardId: string;
  readonly startingPosition: StreamSourceSettings['startingPosition'];
  readonly settings: StreamSourceSettings;
  readonly pollIntervalMs: number;
  /** Aborts when the mapping stops. */
  readonly signal: AbortSignal;
  /** For the ARNs and region in event records. */
  readonly identity: FunctionIdentity;
  /** Completes one batch (retries, bisection, on-failure included), or reports that the mapping stopped first. */
  processBatch(records: readonly KinesisStreamRecord[]): Promise<'completed' | 'stopped'>;
}

interface Pending {
  readonly record: KinesisStreamRecord;
  readonly bytes: number;
  readonly readAt: number;
}

/** Records of one hash slot of a shard, processed one batch at a time. */
class Lane {
  readonly queue: Pending[] = [];
  bytes = 0;
  busy = false;
  private wake: (() => void) | undefined;

  push(pending: Pending): void {
    this.queue.push(pending);
    this.bytes += pending.bytes;
    this.wake?.();
  }

  notify(): void {
    this.wake?.();
  }

  /** Takes the next batch: up to `max` records, under the payload limit, at least one. */
  take(max: number): KinesisStreamRecord[] {
    let count = 0;
    let bytes = 0;
    for (const pending of this.queue) {
      if (count >= max || (count > 0 && bytes + pending.bytes > MAX_PAYLOAD_BYTES)) break;
      count += 1;
      bytes += pending.bytes;
    }
    this.bytes -= bytes;
    return this.queue.splice(0, count).map((p) => p.record);
  }

  /** Resolves on the next push/notify, after `ms` if given, or when `signal` aborts. */
  async wait(ms: number | undefined, signal: AbortSignal): Promise<void> {
    await abortableSleep(ms, signal, (wake) => {
      this.wake = wake;
    });
    this.wake = undefined;
  }
}

/** waiting: for its parent shards; finished: its end was read and every record completed. */
export type ShardState = 'waiting' | 'running' | 'finished' | 'stopped' | 'failed';

export class ShardPoller {
  state: ShardState = 'waiting';
  /** Start time of the latest GetRecords call that found nothing new while nothing was pending. */
  caughtUpAt = Number.NEGATIVE_INFINITY;
  private readonly lanes: Lane[];
  private readonly halt = new AbortController();
  private readonly signal: AbortSignal;
  private readonly maxPending: number;
  private ended = false;
  private lastRead: string | undefined;

  constructor(private readonly props: ShardPollerProps) {
    const { batchSize, parallelizationFactor } = props.settings;
    this.lanes = Array.from({ length: parallelizationFactor }, () => new Lane());
    this.signal = AbortSignal.any([props.signal, this.halt.signal]);
    this.maxPending = Math.max(GET_RECORDS_LIMIT, 2 * batchSize * parallelizationFactor);
  }

  get shardId(): string {
    return this.props.shardId;
  }

  /**
   * Processes the shard until its end (state 'finished') or until the mapping stops ('stopped').
   * Rejects with the first error that stopped it ('failed'); the other lanes stop too.
   */
  async run(): Promise<void> {
    this.state = 'running';
    let failure: { error: unknown } | undefined;
    const guard = (task: Promise<void>) =>
      task.catch((error: unknown) => {
        failure ??= { error };
        this.halt.abort();
      });
    await Promise.all([guard(this.fetchLoop()), ...this.lanes.map((lane) => guard(this.runLane(lane)))]);
    if (failure) {
      this.state = 'failed';
      throw failure.error;
    }
    this.state = this.ended && !this.signal.aborted && this.idle() ? 'finished' : 'stopped';
  }

  private idle(): boolean {
    return this.lanes.every((lane) => lane.queue.length === 0 && !lane.busy);
  }

  private pending(): number {
    return this.lanes.reduce((sum, lane) => sum + lane.queue.length, 0);
  }

  private async iterator(): Promise<string> {
    const { kinesis, streamName, shardId, startingPosition } = this.props;
    const position = this.lastRead
      ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, StartingSequenceNumber: this.lastRead }
      : { ShardIteratorType: startingPosition };
    const request = { StreamName: streamName, ShardId: shardId, ...position };
    const out = await kinesis.send(new GetShardIteratorCommand(request), { abortSignal: this.signal });
    if (!out.ShardIterator)
      throw new Error(`GetShardIterator returned no iterator for ${streamName}/${shardId}`);
    return out.ShardIterator;
  }

  private async fetchLoop(): Promise<void> {
    const { kinesis, pollIntervalMs } = this.props;
    let iterator: string | undefined;
    let throttled = 0;
    while (!this.signal.aborted) {
      if (this.pending() >= this.maxPending) {
        await abortableSleep(pollIntervalMs, this.signal);
        continue;
      }
      const startedAt = Date.now();
      let out: GetRecordsCommandOutput;
      try {
        iterator ??= await this.iterator();
        const request = { ShardIterator: iterator, Limit: GET_RECORDS_LIMIT };
        out = await kinesis.send(new GetRecordsCommand(request), { abortSignal: this.signal });
        throttled = 0;
      } catch (error) {
        if (this.signal.aborted) return; // the call was cut short by stop() or by a failed lane
        const name = (error as Error).name;
        if (name === 'ExpiredIteratorException') {
          iterator = undefined;
          continue;
        }
        if (!THROTTLING.has(name)) throw error;
        throttled += 1;
        await abortableSleep(Math.min(pollIntervalMs * 2 ** throttled, 5_000), this.signal);
        continue;
      }
      const records = out.Records ?? [];
      for (const record of records) this.enqueue(record);
      if (!out.NextShardIterator) {
        this.ended = true;
        for (const lane of this.lanes) lane.notify();
        return;
      }
      iterator = out.NextShardIterator;
      if (records.length === 0) {
        if ((out.MillisBehindLatest ?? 0) === 0 && this.idle()) this.caughtUpAt = startedAt;
        await abortableSleep(pollIntervalMs, this.signal);
      }
    }
  }

  private enqueue(record: _Record): void {
    const event = toEventRecord(record, this.props.shardId, this.props.identity);
    const lane = this.lanes[this.laneOf(event.kinesis.partitionKey)] as Lane;
    lane.push({ record: event, bytes: JSON.stringify(event).length + 1, readAt: Date.now() });
    this.lastRead = event.kinesis.sequenceNumber;
  }

  private laneOf(partitionKey: string): number {
    if (this.lanes.length === 1) return 0;
    return createHash('md5').update(partitionKey).digest().readUInt32BE(0) % this.lanes.length;
  }

  private async runLane(lane: Lane): Promise<void> {
    const { batchSize, maxBatchingWindowMs } = this.props.settings;
    while (!this.signal.aborted) {
      const oldest = lane.queue[0];
      if (!oldest) {
        if (this.ended) return;
        await lane.wait(undefined, this.signal);
        continue;
      }
      const full = lane.queue.length >= batchSize || lane.bytes >= MAX_PAYLOAD_BYTES;
      const windowLeft = oldest.readAt + maxBatchingWindowMs - Date.now();
      if (!full && !this.ended && windowLeft > 0) {
        await lane.wait(windowLeft, this.signal);
        continue;
      }
      const batch = lane.take(batchSize);
      lane.busy = true;
      try {
        if ((await this.props.processBatch(batch)) === 'stopped') return;
      } finally {
        lane.busy = false;
      }
    }
  }
}
