/**
 * A local Kinesis event source mapping: polls a stream (kinesalite locally) and invokes a Lambda
 * handler in-process the way AWS Lambda's Kinesis event source mapping does, with the settings the
 * CDK app gives AWS's (`StreamSourceSettings`): batching, bisect on error, ReportBatchItemFailures
 * (always on), bounded retries and record age, an on-failure destination, ParallelizationFactor
 * and resharding (a child shard starts only after its parents were processed to their end).
 * The AWS behaviours matched, with their sources, are documented in `esm/invocation.ts` (retry
 * policy), `esm/shard-poller.ts` (reading and batching) and `on-failure-destination.ts`.
 *
 * For exactly-once tests, `faults` injects what AWS may do at any time, on purpose and often:
 * redeliveries of succeeded batches and crashes after the handler's writes (`esm/faults.ts`).
 *
 * Not emulated: checkpoints survive only as long as the object (a new mapping starts again at its
 * starting position), tumbling windows, filters, enhanced fan-out, AT_TIMESTAMP.
 */
import { randomUUID } from 'node:crypto';
import { type KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import type { KinesisStreamRecord } from 'aws-lambda';
import { STREAM_SOURCE_DEFAULTS, type StreamSourceSettings } from '../lib/platform-spec.js';
import { type EventSourceMappingFaults, InjectedCrashError, validatedFaults } from './esm/faults.js';
import {
  type Attempt,
  DrainTimeoutError,
  EventSourceMappingError,
  type FunctionIdentity,
  functionArn,
  type InvocationInfo,
  invokeHandler,
  type KinesisHandler,
  lambdaContext,
  runBatch,
  validatedSettings,
} from './esm/invocation.js';
import { abortableSleep, ShardPoller } from './esm/shard-poller.js';
import { type OnFailureDestination, OnFailureSender } from './on-failure-destination.js';

export {
  type EventSourceMappingFaults,
  type FaultContext,
  InjectedCrashError,
} from './esm/faults.js';
export {
  DrainTimeoutError,
  EventSourceMappingError,
  FunctionTimeoutError,
  InvalidBatchResponseError,
  type InvocationInfo,
  type KinesisHandler,
  OnFailureDeliveryError,
} from './esm/invocation.js';

export interface LocalEventSourceMappingProps {
  /** Client for the stream (injected; see `localKinesisClient`). */
  readonly kinesis: KinesisClient;
  /** kinesalite needs StreamName, not StreamARN. */
  readonly streamName: string;
  readonly handler: KinesisHandler;
  /** Merged over STREAM_SOURCE_DEFAULTS; -1 means infinite for retryAttempts and maxRecordAgeSeconds, as in AWS. */
  readonly settings?: Partial<StreamSourceSettings>;
  /** Where records go once retries are exhausted or they are too old. @default none: they are dropped, as in AWS */
  readonly onFailure?: OnFailureDestination;
  /** @default the Kinesis client's region */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  /** @default 'processor' */
  readonly functionName?: string;
  /** The mapping's UUID (AWS puts it in on-failure S3 keys). @default a random UUID */
  readonly uuid?: string;
  /** Delay between GetRecords calls on an idle shard. @default 200 */
  readonly pollIntervalMs?: number;
  /** Delay before the first retry of failed records; doubles per retry, up to 32 times. @default 500 */
  readonly retryBackoffMs?: number;
  /** An invocation that has not settled by then fails like an AWS timeout. @default 60_000 */
  readonly functionTimeoutMs?: number;
  /** How often ListShards looks for new shards (resharding). @default 1_000 */
  readonly shardDiscoveryIntervalMs?: number;
  /** Called after every invocation (observability). */
  readonly onInvocation?: (info: InvocationInfo) => void;
  /** Called when a shard stops on an error that is not the function's (also rejects drain()). */
  readonly onError?: (error: EventSourceMappingError) => void;
  /**
   * Faults to inject, for exactly-once tests: redeliveries of succeeded batches and crashes after
   * the handler ran (see `esm/faults.ts`). @default none: only what AWS's mapping itself does
   */
  readonly faults?: EventSourceMappingFaults;
}

export interface EventSourceMappingStats {
  readonly invocations: number;
  /** Records handed to the function, redeliveries included. */
  readonly recordsDelivered: number;
  /** Each record read ends in exactly one of these three (unless stop() interrupts its batch). */
  readonly recordsSucceeded: number;
  readonly recordsSentToOnFailure: number;
  /** Given up on with no on-failure destination configured. */
  readonly recordsDropped: number;
  readonly functionErrors: number;
  readonly partialFailures: number;
  readonly invalidResponses: number;
  readonly shardsFinished: number;
  /** Invocations whose response a `faults.crash` hook threw away (also counted in functionErrors). */
  readonly injectedCrashes: number;
  /** Extra invocations made by `faults.redeliverEvery`. */
  readonly injectedRedeliveries: number;
}

type Records = readonly KinesisStreamRecord[];

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

interface ShardEntry {
  readonly shard: Shard;
  readonly poller: ShardPoller;
  run?: Promise<void>;
}

export class LocalEventSourceMapping {
  readonly uuid: string;
  readonly settings: StreamSourceSettings;
  private readonly counters = {
    invocations: 0,
    recordsDelivered: 0,
    recordsSucceeded: 0,
    recordsSentToOnFailure: 0,
    recordsDropped: 0,
    functionErrors: 0,
    partialFailures: 0,
    invalidResponses: 0,
    shardsFinished: 0,
    injectedCrashes: 0,
    injectedRedeliveries: 0,
  };
  private readonly faults: EventSourceMappingFaults;
  /** Invocations that succeeded, for `faults.redeliverEvery`. */
  private succeededInvocations = 0;
  private readonly shards = new Map<string, ShardEntry>();
  private readonly abort = new AbortController();
  private readonly timing: { poll: number; backoff: number; timeout: number; discovery: number };
  private runtime: { readonly identity: FunctionIdentity; readonly sender: OnFailureSender } | undefined;
  private started = false;
  private discovery: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private failure: EventSourceMappingError | undefined;

  constructor(private readonly props: LocalEventSourceMappingProps) {
    this.settings = validatedSettings({ ...STREAM_SOURCE_DEFAULTS, ...props.settings });
    this.uuid = props.uuid ?? randomUUID();
    this.faults = validatedFaults(props.faults);
    this.timing = {
      poll: props.pollIntervalMs ?? 200,
      backoff: props.retryBackoffMs ?? 500,
      timeout: props.functionTimeoutMs ?? 60_000,
      discovery: props.shardDiscoveryIntervalMs ?? 1_000,
    };
  }

  /** A snapshot of the counters. */
  get stats(): EventSourceMappingStats {
    return { ...this.counters };
  }

  /** The first error that stopped a shard or shard discovery, if any. */
  get error(): EventSourceMappingError | undefined {
    return this.failure;
  }

  /** Discovers the shards and starts polling those without unfinished parents. Call once. */
  async start(): Promise<void> {
    if (this.started) throw new EventSourceMappingError('start() may be called once per mapping');
    this.started = true;
    const { kinesis, streamName, onFailure } = this.props;
    const region = this.props.region ?? (await kinesis.config.region());
    const accountId = this.props.accountId ?? '000000000000';
    const streamArn = `arn:aws:kinesis:${region}:${accountId}:stream/${streamName}`;
    const identity = { region, accountId, functionName: this.props.functionName ?? 'processor', streamArn };
    const sender = new OnFailureSender({
      destination: onFailure,
      origin: { eventSourceMappingUuid: this.uuid },
      streamArn,
      functionArn: functionArn(identity),
      backoffMs: this.timing.backoff,
      signal: this.abort.signal,
    });
    this.runtime = { identity, sender };
    await this.refreshShards(this.settings.startingPosition);
    this.scheduleDiscovery();
  }

  /**
   * Stops polling and waits for in-flight invocations (not for timed-out ones, which are abandoned
   * as in AWS); leaves no timers behind. Idempotent. Records of an interrupted batch stay uncompleted.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.abort.abort();
      clearTimeout(this.discovery);
      const runs = [...this.shards.values()].map((entry) => entry.run);
      await Promise.allSettled([this.refreshing, ...runs]);
    })();
    return this.stopping;
  }

  /**
   * Resolves once every record that was in the stream when called has been completed (succeeded
   * or given up on), records of child shards included; rejects on timeout or on a shard error.
   */
  async drain(timeoutMs = 30_000): Promise<void> {
    if (!this.started || this.abort.signal.aborted)
      throw new EventSourceMappingError('drain() needs a running mapping');
    const since = Date.now();
    const deadline = since + timeoutMs;
    await this.refreshShards('TRIM_HORIZON');
    for (;;) {
      if (this.failure) throw this.failure;
      const behind = [...this.shards.values()]
        .map((entry) => entry.poller)
        .filter((poller) => poller.state !== 'finished' && poller.caughtUpAt < since);
      if (behind.length === 0) return;
      if (Date.now() > deadline) {
        const shards = behind.map((poller) => `${poller.shardId} (${poller.state})`).join(', ');
        throw new DrainTimeoutError(`not drained after ${timeoutMs} ms; behind: ${shards}`);
      }
      if (!(await abortableSleep(20, this.abort.signal)))
        throw new EventSourceMappingError('stopped before drained');
    }
  }

  private fail(error: unknown, where: string): void {
    if (this.abort.signal.aborted) return; // cut short by stop(): those records stay uncompleted, not lost
    const message = `${where} of stream ${this.props.streamName} stopped: ${asError(error).message}`;
    const wrapped = new EventSourceMappingError(message, { cause: error });
    this.failure ??= wrapped;
    this.props.onError?.(wrapped);
  }

  private scheduleDiscovery(): void {
    if (this.abort.signal.aborted || this.failure) return;
    this.discovery = setTimeout(() => {
      this.refreshShards('TRIM_HORIZON').then(
        () => this.scheduleDiscovery(),
        (error: unknown) => this.fail(error, 'shard discovery'),
      );
    }, this.timing.discovery);
  }

  /** Lists the shards, adds new ones (read from `position`) and starts those whose parents are done. */
  private refreshShards(position: StreamSourceSettings['startingPosition']): Promise<void> {
    this.refreshing ??= (async () => {
      const { kinesis, streamName } = this.props;
      let token: string | undefined;
      do {
        const request = token ? { NextToken: token } : { StreamName: streamName };
        const out = await kinesis.send(new ListShardsCommand(request), { abortSignal: this.abort.signal });
        for (const shard of out.Shards ?? []) this.addShard(shard, position);
        token = out.NextToken;
      } while (token);
      this.startReadyShards();
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private addShard(shard: Shard, startingPosition: StreamSourceSettings['startingPosition']): void {
    const shardId = shard.ShardId ?? '';
    if (this.shards.has(shardId)) return;
    const poller = new ShardPoller({
      kinesis: this.props.kinesis,
      streamName: this.props.streamName,
      shardId,
      startingPosition,
      settings: this.settings,
      pollIntervalMs: this.timing.poll,
      signal: this.abort.signal,
      identity: this.ready().identity,
      processBatch: (records) => this.processBatch(shardId, records),
    });
    this.shards.set(shardId, { shard, poller });
  }

  /**
   * A shard starts once each parent is finished, i.e. read to its end with every record completed
   * (or no longer listed: trimmed away), so a partition key's records stay in order across a
   * reshard ("Lambda processes the parent shard before the child shards", with-kinesis.html).
   */
  private startReadyShards(): void {
    if (this.abort.signal.aborted) return;
    for (const entry of this.shards.values()) {
      if (entry.run) continue;
      const parents = [entry.shard.ParentShardId, entry.shard.AdjacentParentShardId];
      const done = (id: string | undefined) =>
        !id || (this.shards.get(id)?.poller.state ?? 'finished') === 'finished';
      if (!parents.every(done)) continue;
      entry.run = entry.poller.run().then(
        () => {
          if (entry.poller.state !== 'finished') return;
          this.counters.shardsFinished += 1;
          this.startReadyShards();
        },
        (error: unknown) => this.fail(error, `shard ${entry.poller.shardId}`),
      );
    }
  }

  private ready(): NonNullable<LocalEventSourceMapping['runtime']> {
    if (!this.runtime) throw new EventSourceMappingError('the mapping has not been started');
    return this.runtime;
  }

  private processBatch(shardId: string, records: Records): Promise<'completed' | 'stopped'> {
    return runBatch(records, {
      settings: this.settings,
      retryBackoffMs: this.timing.backoff,
      invoke: (batch, attempt) => this.invoke(shardId, batch, attempt),
      succeeded: (done) => {
        this.counters.recordsSucceeded += done.length;
      },
      giveUp: async (givenUp) => {
        const outcome = await this.ready().sender.giveUp({ ...givenUp, shardId });
        const counter = outcome === 'sent' ? 'recordsSentToOnFailure' : 'recordsDropped';
        this.counters[counter] += givenUp.records.length;
      },
      sleep: (ms) => abortableSleep(ms, this.abort.signal),
      stopped: () => this.abort.signal.aborted,
      now: () => Date.now(),
    });
  }

  private async invoke(shardId: string, records: Records, attempt: number): Promise<Attempt> {
    const result = await this.invokeOnce(shardId, records, attempt);
    const every = this.faults.redeliverEvery;
    if (result.outcome !== 'ok' || every === undefined || ++this.succeededInvocations % every !== 0)
      return result;
    // A retry after a lost response: the same records again; this answer is the one that counts.
    this.counters.injectedRedeliveries += 1;
    return this.invokeOnce(shardId, records, attempt + 1);
  }

  private async invokeOnce(shardId: string, records: Records, attempt: number): Promise<Attempt> {
    const context = lambdaContext(this.ready().identity, Date.now() + this.timing.timeout);
    const startedAt = performance.now();
    this.counters.invocations += 1;
    this.counters.recordsDelivered += records.length;
    const firstSequenceNumber = records[0]?.kinesis.sequenceNumber ?? '';
    const lastSequenceNumber = records[records.length - 1]?.kinesis.sequenceNumber ?? '';
    let result = await invokeHandler(this.props.handler, records, context, this.timing.timeout);
    if (
      result.outcome !== 'error' &&
      this.faults.crash?.({
        shardId,
        invocation: this.counters.invocations,
        records: records.length,
        firstSequenceNumber,
        lastSequenceNumber,
        attempt,
        outcome: result.outcome,
      })
    ) {
      this.counters.injectedCrashes += 1;
      const error = new InjectedCrashError('injected crash: the handler ran, its response was lost');
      result = { outcome: 'error', requestId: result.requestId, functionError: true, error };
    }
    if (result.outcome === 'partial') this.counters.partialFailures += 1;
    if (result.outcome === 'error')
      this.counters[result.functionError ? 'functionErrors' : 'invalidResponses'] += 1;
    this.props.onInvocation?.({
      shardId,
      requestId: result.requestId,
      records: records.length,
      firstSequenceNumber,
      lastSequenceNumber,
      outcome: result.outcome,
      attempt,
      durationMs: performance.now() - startedAt,
      ...(result.outcome === 'error' ? { error: result.error } : {}),
    });
    return result;
  }
}
