/**
 * Invoking the function for one batch of one shard, up to completion: the context it gets, how its
 * answer is read, and what is retried, split or given up on (`runBatch`, pure policy: the event
 * source mapping supplies invocation, sleeping and the on-failure destination).
 *
 * AWS sources (Lambda Developer Guide):
 * - "Configuring partial batch response with Kinesis Data Streams and Lambda"
 *   (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html):
 *   success = void/null response, empty or null `batchItemFailures`; several failures = checkpoint at
 *   the lowest sequence number and retry all records from there; an empty/null `itemIdentifier` or
 *   a wrong key name = complete failure, retried per the retry policy; with bisect on, a partial
 *   response splits the batch at the returned sequence number and only the rest is retried.
 * - "Retain discarded batch records for a Kinesis Data Streams event source"
 *   (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html): retried until
 *   records exceed MaximumRecordAgeInSeconds or MaximumRetryAttempts; BisectBatchOnFunctionError
 *   splits a batch that returned an error in two; "splitting a batch does not count towards the
 *   retry quota"; records given up on go to the on-failure destination and the shard moves on.
 * - CreateEventSourceMapping API: -1 means infinite for both MaximumRetryAttempts and
 *   MaximumRecordAgeInSeconds.
 *
 * How retries are counted here (the docs leave the arithmetic open; this is the reading used):
 * a (sub-)batch carries a retry count. A function error with bisect on and more than one record
 * splits it into halves that inherit the count unchanged (a split is not a retry); the first half
 * completes before the second starts. Any other failure (function error on one record or without
 * bisect, a partial failure, an invalid response) retries the failed records with count + 1 after a
 * backoff, or gives them up once count + 1 exceeds `retryAttempts`. So with retryAttempts = R and
 * no bisect a failing batch is invoked 1 + R times; with bisect a poison record is invoked once per
 * halving level plus R more times alone. A partial failure counts as a retry even with bisect on,
 * otherwise a function that always reports its first record would be retried forever.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import type { StreamSourceSettings } from '../../lib/platform-spec.js';
import type { InvocationRecordInput, OnFailureCondition } from '../on-failure-destination.js';

// biome-ignore lint/suspicious/noConfusingVoidType: as @types/aws-lambda's KinesisStreamHandler, so real handlers fit
type HandlerResult = KinesisStreamBatchResponse | void;
/** A Kinesis-triggered Lambda handler (the real processor's signature). */
export type KinesisHandler = (event: KinesisStreamEvent, context: Context) => Promise<HandlerResult>;

/** Where the records come from and which function they go to (for ARNs in events and contexts). */
export interface FunctionIdentity {
  readonly region: string;
  readonly accountId: string;
  readonly functionName: string;
  readonly streamArn: string;
}

export const functionArn = (f: FunctionIdentity): string =>
  `arn:aws:lambda:${f.region}:${f.accountId}:function:${f.functionName}`;

const callbackStyle = (): never => {
  throw new Error(
    'context.done/fail/succeed are not supported by the local event source mapping: return a promise',
  );
};

/** A Lambda context for one invocation: unique request id, remaining time counting down to `deadline`. */
export function lambdaContext(f: FunctionIdentity, deadline: number, memoryMb = 1024): Context {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: f.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn(f),
    memoryLimitInMB: String(memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${f.functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: callbackStyle,
    fail: callbackStyle,
    succeed: callbackStyle,
  };
}

/** The result of one invocation, as the retry policy needs it. */
export type Attempt =
  | { readonly outcome: 'ok'; readonly requestId: string }
  /** Records before `failedFrom` (index of the lowest reported sequence number) succeeded. */
  | { readonly outcome: 'partial'; readonly requestId: string; readonly failedFrom: number }
  /** `functionError`: the function threw or timed out; otherwise its response was invalid. */
  | {
      readonly outcome: 'error';
      readonly requestId: string;
      readonly functionError: boolean;
      readonly error: Error;
    };

/** Observability: one call per invocation. */
export interface InvocationInfo {
  readonly shardId: string;
  readonly requestId: string;
  readonly records: number;
  readonly firstSequenceNumber: string;
  readonly lastSequenceNumber: string;
  readonly outcome: Attempt['outcome'];
  /** 1 for the first invocation that included these records, 2 for the next, ... */
  readonly attempt: number;
  readonly durationMs: number;
  readonly error?: Error;
}

/** Base of the local event source mapping's errors. */
export class EventSourceMappingError extends Error {
  override readonly name: string = 'EventSourceMappingError';
}
/** The function's response named no valid batch item: the whole batch counts as failed. */
export class InvalidBatchResponseError extends EventSourceMappingError {
  override readonly name = 'InvalidBatchResponseError';
}
/** The function did not settle within its timeout (a function error, as in AWS). */
export class FunctionTimeoutError extends EventSourceMappingError {
  override readonly name = 'FunctionTimeoutError';
}
/** Given-up records could not be stored in the on-failure destination; the shard stops there. */
export class OnFailureDeliveryError extends EventSourceMappingError {
  override readonly name = 'OnFailureDeliveryError';
}
/** drain() did not see every shard caught up in time. */
export class DrainTimeoutError extends EventSourceMappingError {
  override readonly name = 'DrainTimeoutError';
}

/**
 * Reads a handler's response against the records it was given (in shard order). Item identifiers
 * are matched exactly against the batch's sequence numbers, so the lowest one is the one with the
 * lowest index: no numeric conversion of 129-digit sequence numbers is needed.
 */
export function classifyResponse(
  response: unknown,
  records: readonly KinesisStreamRecord[],
  requestId: string,
): Attempt {
  const failures =
    response && typeof response === 'object'
      ? (response as { batchItemFailures?: unknown }).batchItemFailures
      : undefined;
  if (failures === undefined || failures === null) return { outcome: 'ok', requestId };
  const invalid = (why: string): Attempt => ({
    outcome: 'error',
    requestId,
    functionError: false,
    error: new InvalidBatchResponseError(`batchItemFailures ${why}: the whole batch counts as failed`),
  });
  if (!Array.isArray(failures)) return invalid('is not a list');
  if (failures.length === 0) return { outcome: 'ok', requestId };
  const index = new Map(records.map((record, i) => [record.kinesis.sequenceNumber, i]));
  let failedFrom = records.length;
  for (const failure of failures) {
    const id: unknown =
      failure && typeof failure === 'object'
        ? (failure as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof id !== 'string' || id === '')
      return invalid(`has an empty or missing itemIdentifier (${JSON.stringify(failure)})`);
    const at = index.get(id);
    if (at === undefined) return invalid(`names "${id}", which is not a sequence number of this batch`);
    failedFrom = Math.min(failedFrom, at);
  }
  return { outcome: 'partial', requestId, failedFrom };
}

/**
 * Calls the handler once with a copy of the records (a handler that mutates its event cannot change
 * what a retry delivers) and reads its answer. After `timeoutMs` the invocation fails like an AWS
 * timeout. The handler cannot be killed in-process; it is abandoned, as AWS abandons a timed-out
 * sandbox: its late outcome is ignored (Promise.race already observes it, so a late rejection is
 * not unhandled) and nothing, stop() included, waits for it.
 */
export async function invokeHandler(
  handler: KinesisHandler,
  records: readonly KinesisStreamRecord[],
  context: Context,
  timeoutMs: number,
): Promise<Attempt> {
  const requestId = context.awsRequestId;
  let timer: NodeJS.Timeout | undefined;
  const running = (async () => handler({ Records: records.map((r) => structuredClone(r)) }, context))();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new FunctionTimeoutError(`Task timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return classifyResponse(await Promise.race([running, timeout]), records, requestId);
  } catch (error) {
    const cause = error instanceof Error ? error : new Error(String(error));
    return { outcome: 'error', requestId, functionError: true, error: cause };
  } finally {
    clearTimeout(timer);
  }
}

/** Checks merged settings against AWS's ranges (record age and window may be shorter, for tests). */
export function validatedSettings(s: StreamSourceSettings): StreamSourceSettings {
  const problems: string[] = [];
  const integer = (name: keyof StreamSourceSettings, min: number, max: number) => {
    const value = s[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      problems.push(`${name} must be an integer from ${min} to ${max} (got ${String(value)})`);
  };
  integer('batchSize', 1, 10_000);
  integer('maxBatchingWindowMs', 0, 300_000);
  integer('retryAttempts', -1, 10_000);
  integer('parallelizationFactor', 1, 10);
  const age = s.maxRecordAgeSeconds;
  if (!(age === -1 || (age > 0 && age <= 604_800)))
    problems.push(`maxRecordAgeSeconds must be -1 or in (0, 604800] (got ${age})`);
  if (s.startingPosition !== 'TRIM_HORIZON' && s.startingPosition !== 'LATEST')
    problems.push(`startingPosition must be TRIM_HORIZON or LATEST (got ${String(s.startingPosition)})`);
  if (problems.length > 0) throw new RangeError(`invalid stream source settings: ${problems.join('; ')}`);
  return s;
}

/** What the retry policy needs from the event source mapping. */
export interface BatchRunnerDeps {
  readonly settings: StreamSourceSettings;
  /** Base delay before a retry; doubles per retry of the same records, up to 32 times the base. */
  readonly retryBackoffMs: number;
  invoke(records: readonly KinesisStreamRecord[], attempt: number): Promise<Attempt>;
  succeeded(records: readonly KinesisStreamRecord[]): void;
  /** Hands records to the on-failure destination; rejects if they could not be stored. */
  giveUp(input: GivenUp): Promise<void>;
  /** Resolves true after `ms`, or false as soon as the mapping stops. */
  sleep(ms: number): Promise<boolean>;
  stopped(): boolean;
  now(): number;
}

/** What the on-failure destination needs to describe given-up records (all but shard and ARNs). */
export type GivenUp = Omit<InvocationRecordInput, 'shardId' | 'streamArn' | 'functionArn' | 'now'>;

interface Work {
  readonly records: readonly KinesisStreamRecord[];
  readonly retries: number;
  readonly invokes: number;
  readonly last?: Attempt;
}

const tooOld = (record: KinesisStreamRecord, maxAgeSeconds: number, nowMs: number): boolean =>
  maxAgeSeconds >= 0 && nowMs - record.kinesis.approximateArrivalTimestamp * 1000 > maxAgeSeconds * 1000;

const givenUp = (
  records: readonly KinesisStreamRecord[],
  condition: OnFailureCondition,
  item: Work,
): GivenUp => ({
  records,
  condition,
  approximateInvokeCount: item.invokes,
  requestId: item.last?.requestId,
  functionError: item.last?.outcome === 'error' && item.last.functionError ? 'Unhandled' : undefined,
});

/**
 * Runs one batch until every record has succeeded or been given up on ('completed'), or until the
 * mapping stops ('stopped': the rest of the batch is neither done nor given up on).
 */
export async function runBatch(
  batch: readonly KinesisStreamRecord[],
  deps: BatchRunnerDeps,
): Promise<'completed' | 'stopped'> {
  const { bisectBatchOnError, retryAttempts, maxRecordAgeSeconds } = deps.settings;
  const work: Work[] = [{ records: batch, retries: 0, invokes: 0 }];
  for (let item = work.shift(); item; item = work.shift()) {
    if (deps.stopped()) return 'stopped';
    const now = deps.now();
    const expired = item.records.filter((r) => tooOld(r, maxRecordAgeSeconds, now));
    const fresh = item.records.filter((r) => !tooOld(r, maxRecordAgeSeconds, now));
    if (expired.length > 0) await deps.giveUp(givenUp(expired, 'RecordAgeExceeded', item));
    if (fresh.length === 0) continue;

    const attempt = await deps.invoke(fresh, item.invokes + 1);
    const invoked: Work = { records: fresh, retries: item.retries, invokes: item.invokes + 1, last: attempt };
    if (attempt.outcome === 'ok') {
      deps.succeeded(fresh);
      continue;
    }
    let failed = fresh;
    if (attempt.outcome === 'partial') {
      deps.succeeded(fresh.slice(0, attempt.failedFrom));
      failed = fresh.slice(attempt.failedFrom);
    } else if (attempt.functionError && bisectBatchOnError && fresh.length > 1) {
      const half = Math.ceil(fresh.length / 2);
      work.unshift({ ...invoked, records: fresh.slice(0, half) }, { ...invoked, records: fresh.slice(half) });
      continue;
    }
    const retries = item.retries + 1;
    if (retryAttempts >= 0 && retries > retryAttempts) {
      await deps.giveUp(givenUp(failed, 'RetryAttemptsExhausted', invoked));
      continue;
    }
    const delay = Math.min(deps.retryBackoffMs * 2 ** (retries - 1), deps.retryBackoffMs * 32);
    if (!(await deps.sleep(delay))) return 'stopped';
    work.unshift({ ...invoked, records: failed, retries });
  }
  return 'completed';
}
