/**
 * Faults the local event source mapping can inject, for tests that prove the processor's effect is
 * exactly once (test/integration/exactly-once.test.ts). Each one is something AWS Lambda may do on
 * its own; injecting it makes it happen often and on purpose:
 * - a redelivery of a batch that already succeeded ("Lambda retries ... if the function returns an
 *   error or its response is lost": at-least-once invocation), and
 * - a crash after the handler ran, i.e. after its writes (the sandbox dies before the response
 *   reaches the mapping): the invocation counts as a function error, so the batch is retried or
 *   bisected by the usual policy (`runBatch`).
 * With no faults configured the mapping behaves exactly as without this module.
 */
import { EventSourceMappingError } from './invocation.js';

/** What a fault hook is told about the invocation that just ran. */
export interface FaultContext {
  readonly shardId: string;
  /** 1 for the mapping's first invocation, counting every invocation of every shard. */
  readonly invocation: number;
  readonly records: number;
  readonly firstSequenceNumber: string;
  readonly lastSequenceNumber: string;
  /** As in `InvocationInfo`: 1 for the first invocation that included these records. */
  readonly attempt: number;
  /** The handler's own outcome, before any fault is applied. */
  readonly outcome: 'ok' | 'partial';
}

export interface EventSourceMappingFaults {
  /**
   * After every Nth invocation that succeeded, invoke the function once more with the same records
   * (a retry after a lost response); the retry's outcome is the one the mapping acts on.
   * @default never
   */
  readonly redeliverEvery?: number;
  /**
   * Called after each invocation whose handler returned (fully or partly successful); true throws
   * the response away and counts the invocation as a function error: a crash after the writes.
   * @default never
   */
  readonly crash?: (context: FaultContext) => boolean;
}

/** The function error recorded for an injected crash. */
export class InjectedCrashError extends EventSourceMappingError {
  override readonly name = 'InjectedCrashError';
}

/** Refuses settings no test means: a redelivery period that is not a positive integer. */
export function validatedFaults(faults: EventSourceMappingFaults | undefined): EventSourceMappingFaults {
  const every = faults?.redeliverEvery;
  if (every !== undefined && (!Number.isInteger(every) || every < 1))
    throw new RangeError(`faults.redeliverEvery must be a positive integer (got ${String(every)})`);
  return faults ?? {};
}
