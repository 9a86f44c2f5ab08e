/**
 * An in-process stand-in for Lambda's Kinesis event source mapping, for property tests: it
 * delivers simulated shards' records to a processor the way AWS may, under a schedule of
 * deliveries that a test generates (so a failing case shrinks to a short schedule).
 *
 * What it does, per shard (as documented for Lambda, see local/esm/invocation.ts):
 * - a child shard starts once all its parents are finished (resharding keeps per-key order);
 * - ParallelizationFactor F: a shard's records are dealt into F lanes by a hash of the partition
 *   key; each lane is processed in order, the lanes concurrently (their store calls interleave);
 * - batches of `batchSize` records; a partial failure (`failed` sequence numbers) retries from the
 *   lowest one, either the rest of the batch or a batch re-read from there (`regroup`);
 * - a crash (the processor throws `InjectedCrash`, or its response is lost) retries the batch, or splits it in two halves
 *   processed one after the other when `bisect` is on;
 * - after a successful batch, optionally delivers it again (a retry after a lost response, itself
 *   retried until it completes) or rewinds the lane by some records (a checkpoint lost: an earlier
 *   range is replayed).
 * Once the schedule is used up every delivery is fault-free, so every record completes.
 */
import { createHash } from 'node:crypto';
import type { InputRecord } from '../../lambdas/core/decode.js';
import { compareSequence } from '../../lambdas/core/sequence.js';
import { type FaultPlan, InjectedCrash } from './fault-stores.js';

export interface SimulatedShard {
  readonly shardId: string;
  /** In sequence-number order. */
  readonly records: readonly InputRecord[];
  /** Shards whose records must all be completed before this one starts. */
  readonly parents: readonly string[];
}

/** One delivery attempt, as the schedule decides it. */
export interface Delivery {
  /** Records in a new batch (a retry after a partial failure may keep the rest of the old one). */
  readonly batchSize: number;
  /** On a crash, split the batch in two instead of retrying it whole. */
  readonly bisect: boolean;
  /** After a partial failure, re-read a new batch from the first failed record (else retry the rest). */
  readonly regroup: boolean;
  readonly faults: FaultPlan;
  /** The processor runs to the end but its response is lost: a function error, as a crash after all writes. */
  readonly lostResponse?: boolean;
  /** After success: deliver the same batch once more, or rewind the lane by `replay` records. */
  readonly after: 'none' | 'redeliver' | { readonly replay: number };
}

/** Processes one batch; resolves with the sequence numbers that did not complete. */
export type Invoke = (records: readonly InputRecord[], delivery: Delivery) => Promise<readonly string[]>;

export interface DeliveryStats {
  invocations: number;
  crashes: number;
  partialFailures: number;
  redeliveries: number;
  replays: number;
  bisections: number;
}

const CALM: Omit<Delivery, 'batchSize'> = { bisect: false, regroup: false, faults: {}, after: 'none' };

export class DeliverySchedule {
  private next = 0;
  constructor(
    private readonly steps: readonly Delivery[],
    private readonly calmBatchSize: number,
  ) {}
  take(): Delivery {
    return this.steps[this.next++] ?? { ...CALM, batchSize: this.calmBatchSize };
  }
}

/** The lane of a partition key under a parallelization factor (any stable hash does). */
export function laneOf(partitionKey: string, factor: number): number {
  if (factor === 1) return 0;
  return createHash('md5').update(partitionKey).digest().readUInt32BE(0) % factor;
}

export interface DeliverOptions {
  readonly parallelizationFactor: number;
  readonly schedule: DeliverySchedule;
  readonly invoke: Invoke;
  /** A guard against a processor that never completes a record. @default 20_000 */
  readonly maxInvocations?: number;
  /**
   * Whether the mapping gives up on a failed batch from this record on (its maximum record age):
   * those records go to `onGiveUp` (the on-failure destination) and the lane moves past the batch.
   */
  readonly givesUp?: (record: InputRecord) => boolean;
  readonly onGiveUp?: (records: readonly InputRecord[]) => void;
}

/** Delivers every record of every shard until each has completed at least once. */
export async function deliverAll(
  shards: readonly SimulatedShard[],
  options: DeliverOptions,
): Promise<DeliveryStats> {
  const stats: DeliveryStats = {
    invocations: 0,
    crashes: 0,
    partialFailures: 0,
    redeliveries: 0,
    replays: 0,
    bisections: 0,
  };
  const maxInvocations = options.maxInvocations ?? 20_000;

  /** Delivers `batch` until a prefix of it completed; resolves with that prefix's length. */
  const deliver = async (batch: readonly InputRecord[], first: Delivery): Promise<number> => {
    let rest = batch;
    let delivery = first;
    for (;;) {
      if (++stats.invocations > maxInvocations)
        throw new Error(`no progress after ${maxInvocations} invocations`);
      let failed: readonly string[] | 'crash';
      try {
        failed = await options.invoke(rest, delivery);
        if (delivery.lostResponse) throw new InjectedCrash('response lost');
      } catch (error) {
        if (!(error instanceof InjectedCrash)) throw error;
        failed = 'crash';
      }
      if (failed !== 'crash' && failed.length === 0) {
        if (delivery.after === 'redeliver') {
          // The answer was lost: Lambda retries the batch until all of it completes again (as any
          // failed batch, from its first failed record) before the lane moves on.
          stats.redeliveries++;
          for (let done = 0; done < rest.length; )
            done += await deliver(rest.slice(done), options.schedule.take());
        }
        return batch.length;
      }
      if (failed === 'crash') {
        stats.crashes++;
        if (delivery.bisect && rest.length > 1) {
          stats.bisections++;
          const half = Math.ceil(rest.length / 2);
          const done = batch.length - rest.length;
          const left = await deliver(rest.slice(0, half), options.schedule.take());
          if (left < half) return done + left;
          return done + half + (await deliver(rest.slice(half), options.schedule.take()));
        }
      } else {
        stats.partialFailures++;
        const lowest = [...failed].sort(compareSequence)[0] as string;
        const at = rest.findIndex((r) => r.sequenceNumber === lowest);
        if (at < 0) throw new Error(`failed sequence number ${lowest} is not in the batch`);
        // The records past the maximum age from the failed one on go to the on-failure destination;
        // the rest of the batch is retried.
        let past = at;
        while (past < rest.length && options.givesUp?.(rest[past] as InputRecord)) past++;
        if (past > at) {
          options.onGiveUp?.(rest.slice(at, past));
          if (past === rest.length) return batch.length;
          rest = rest.slice(past);
          delivery = options.schedule.take();
          continue;
        }
        if (delivery.regroup) return batch.length - rest.length + at;
        rest = rest.slice(at);
      }
      delivery = options.schedule.take();
    }
  };

  const runLane = async (records: readonly InputRecord[]) => {
    let position = 0;
    while (position < records.length) {
      const delivery = options.schedule.take();
      const batch = records.slice(position, position + delivery.batchSize);
      position += await deliver(batch, delivery);
      if (typeof delivery.after === 'object') {
        stats.replays++;
        position = Math.max(0, position - delivery.after.replay);
      }
    }
  };

  const runShard = async (shard: SimulatedShard) => {
    const lanes: InputRecord[][] = Array.from({ length: options.parallelizationFactor }, () => []);
    for (const r of shard.records) lanes[laneOf(r.partitionKey, options.parallelizationFactor)]?.push(r);
    await Promise.all(lanes.map(runLane));
  };

  const finished = new Map<string, Promise<void>>();
  const byId = new Map(shards.map((s) => [s.shardId, s]));
  const finish = (shard: SimulatedShard): Promise<void> => {
    let done = finished.get(shard.shardId);
    if (!done) {
      const parents = shard.parents.map((id) => byId.get(id)).filter((s) => s !== undefined);
      done = Promise.all(parents.map(finish)).then(() => runShard(shard));
      finished.set(shard.shardId, done);
    }
    return done;
  };
  await Promise.all(shards.map(finish));
  return stats;
}
