/**
 * Which failed PutRecords calls are worth another attempt, and how long to wait before it.
 * Written here rather than taken from @smithy/service-error-classification because that package is
 * not a direct dependency, and Kinesis' list is short: throttling, 5xx, and the network.
 */

/** Whole-request errors that a later attempt can succeed past. */
const RETRYABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'KMSThrottlingException',
  'ThrottlingException',
  'InternalFailure',
  'InternalFailureException',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** Node socket errors of a connection that may work next time (not DNS names that do not resolve). */
const RETRYABLE_SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

interface ErrorLike {
  name?: string;
  code?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** The name a report shows for a failed call: the service's error name, or the socket error code. */
export function errorCodeOf(error: unknown): string {
  const e = (error ?? {}) as ErrorLike;
  if (typeof e.code === 'string' && (e.name === undefined || e.name === 'Error')) return e.code;
  return e.name ?? 'UnknownError';
}

export function isRetryable(error: unknown): boolean {
  const e = (error ?? {}) as ErrorLike;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    Boolean(e.$retryable) ||
    RETRYABLE_NAMES.has(e.name ?? '') ||
    (typeof e.code === 'string' && RETRYABLE_SOCKET_CODES.has(e.code)) ||
    status === 429 ||
    status >= 500
  );
}

export interface Backoff {
  /** First retry's ceiling. */
  readonly baseDelayMs: number;
  /** No wait is ever longer. */
  readonly maxDelayMs: number;
  /** [0, 1); Math.random unless a test pins it. */
  readonly random: () => number;
}

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 * before attempt n+1, wait a uniform random time in [0, min(max, base * 2^(n-1))). Full jitter
 * spreads producers that were throttled together instead of having them collide again.
 */
export const backoffDelay = (attemptsMade: number, b: Backoff): number =>
  Math.floor(b.random() * Math.min(b.maxDelayMs, b.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1)));
