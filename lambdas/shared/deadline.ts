/**
 * The invocation's deadline, for the processor's AWS calls.
 *
 * A Lambda timeout is a crash: nothing after it runs. So the records near the age at which the event
 * source mapping gives them up are not parked (lambdas/core/process-batch.ts, steps 7 and 8), and
 * the whole batch is retried. The SDK's request timeout bounds one attempt, not a batch: 500 entity
 * writes to a DynamoDB that hangs, 32 at a time, five attempts of 10 s each, take some 13 minutes.
 *
 * So every AWS call checks before each attempt that enough of the invocation is left for what must
 * still come after it, and otherwise fails at once with `OutOfTimeError`. That is a transient
 * failure, so the batch ends as it does under any outage: its records fail, and those near the age
 * limit are parked. DynamoDB writes stop first, then its reads, then S3 (`deadlineReserves`): the
 * parks, side outputs and entries written after a failed entity write need a read and S3. An
 * attempt already in flight is bounded by the request and connection timeouts, which the reserves
 * cover.
 */
import type { Context } from 'aws-lambda';
import { SDK_CONNECTION_TIMEOUT_MS } from './config.js';

/** An AWS call not sent, because too little of the invocation was left (transient: a retry has time). */
export class OutOfTimeError extends Error {
  override readonly name = 'OutOfTimeError';
}

/** When the current invocation ends; none outside Lambda (local runs that call the core directly). */
export class InvocationDeadline {
  #endsAt: number | undefined;
  constructor(private readonly now: () => number = Date.now) {}

  /** Starts an invocation: its end is the context's remaining time from now (none without a context). */
  begin(context: Pick<Context, 'getRemainingTimeInMillis'> | undefined): void {
    this.#endsAt = context ? this.now() + context.getRemainingTimeInMillis() : undefined;
  }

  /** Milliseconds left; Infinity with no invocation running. */
  remainingMs(): number {
    return this.#endsAt === undefined ? Number.POSITIVE_INFINITY : this.#endsAt - this.now();
  }
}

/**
 * How much of the invocation each kind of call leaves for what follows it, for AWS requests that may
 * take `requestTimeoutMs`. A call in flight when its kind stops ends within its attempt (a request
 * and a connection timeout) and the SDK's wait before the next one (under 10 s in standard mode,
 * five attempts), which is then refused: two attempts' time covers it, a *tail*. S3, KMS and Secrets
 * Manager stop a tail before the end; DynamoDB reads a tail earlier, so that a group whose writes
 * failed can still read which of its records to park; DynamoDB writes a tail before that.
 */
export const deadlineReserves = (
  requestTimeoutMs: number,
): { readonly s3Ms: number; readonly dynamoDbReadsMs: number; readonly dynamoDbWritesMs: number } => {
  const tail = 2 * (requestTimeoutMs + SDK_CONNECTION_TIMEOUT_MS);
  return { s3Ms: tail, dynamoDbReadsMs: 2 * tail, dynamoDbWritesMs: 3 * tail };
};

/** DynamoDB's reserve by command: reads (BatchGetItem, GetItem, Query, Scan) stop after writes. */
export const dynamoDbReserve =
  (reserves: ReturnType<typeof deadlineReserves>) =>
  (commandName: string): number =>
    /^(BatchGetItem|GetItem|Query|Scan)Command$/.test(commandName)
      ? reserves.dynamoDbReadsMs
      : reserves.dynamoDbWritesMs;

/** What `refuseNearDeadline` needs of an AWS SDK client (any v3 client has it). */
export interface WithMiddlewareStack {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: never) => Promise<unknown>,
        context: { readonly commandName?: string },
      ) => (args: never) => Promise<unknown>,
      options: { step: 'finalizeRequest'; priority: 'low'; name: string },
    ): void;
  };
}

/**
 * Makes every attempt of `client`'s requests fail with `OutOfTimeError`, unsent, once less than its
 * reserve (`reserveMs`, or by command name) of the invocation is left. Inside the SDK's retry loop
 * (finalizeRequest, after the retry middleware), so each attempt checks, and the error, not
 * retryable, ends the call.
 */
export function refuseNearDeadline<C extends WithMiddlewareStack>(
  client: C,
  deadline: InvocationDeadline,
  reserveMs: number | ((commandName: string) => number),
): C {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const reserve = typeof reserveMs === 'number' ? reserveMs : reserveMs(context.commandName ?? '');
      const left = deadline.remainingMs();
      if (left < reserve)
        throw new OutOfTimeError(
          `not sent: ${Math.max(0, Math.round(left / 1000))} s of the invocation left, ` +
            `under the ${Math.round(reserve / 1000)} s kept for the calls that follow`,
        );
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'refuseNearDeadline' },
  );
  return client;
}
