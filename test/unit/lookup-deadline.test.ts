/**
 * The lookup API when the online store does not answer: the deployed handler's DynamoDB calls stop
 * short of the function's timeout (lambdas/shared/deadline.ts), so the caller gets a 503 to retry,
 * and the request its audit line, instead of a timeout with neither (API Gateway would answer 502
 * and the log would hold no decision).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { OnlineStoreError } from '../../lambdas/adapters/errors.js';
import { InMemoryEntityStore } from '../../lambdas/adapters/memory.js';
import { createHandler, handler } from '../../lambdas/lookup/handler.js';
import { lookupConfigSchema, lookupDeadlineReserveMs, readConfig } from '../../lambdas/shared/config.js';
import { type HungEndpoint, hungEndpoint } from '../support/hung-endpoint.js';
import { lookupGetEvent } from '../support/lookup-events.js';

const event = lookupGetEvent('customer', 'cus_0001', {
  rolePrefix: 'fp-test',
  role: 'consumer-fraud-scoring',
  requestId: 'r-deadline',
});
const context = (ms: number) => ({ getRemainingTimeInMillis: () => ms });

describe('lookup API under a store that does not answer', () => {
  let hung: HungEndpoint;
  beforeAll(async () => {
    hung = await hungEndpoint();
    for (const [k, v] of Object.entries({
      AWS_ENDPOINT_URL_DYNAMODB: hung.url,
      AWS_REGION: 'me-central-1',
      AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
      AWS_SECRET_ACCESS_KEY: 'local',
      ONLINE_TABLE: 'online',
      ACCESS_ROLE_PREFIX: 'fp-test',
      LOOKUP_REQUEST_TIMEOUT_MS: '300',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    }))
      vi.stubEnv(k, v);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await hung.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('answers 503 with Retry-After at once when too little of the invocation is left for a call', async () => {
    // The reserve is an attempt in flight (a 1 s connection and a 300 ms request timeout) and 0.5 s.
    // With 1 s left nothing is sent; unguarded, three attempts of 300 ms would outlast the invocation.
    expect(lookupDeadlineReserveMs(300)).toBe(1_800);
    const started = Date.now();
    const response = await handler(event, context(1_000));
    const elapsed = Date.now() - started;
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('1');
    expect(JSON.parse(response.body)).toMatchObject({
      type: 'https://feature-platform.dev/problems/store-unavailable',
      status: 503,
    });
    expect(response.body).not.toMatch(/ at |Error/); // no stack or internals
    expect(elapsed).toBeLessThan(600);
  });

  it('lets the call retry while the invocation has time (a timeout, then a 503 too)', async () => {
    const started = Date.now();
    const response = await handler(event, context(60_000));
    expect(response.statusCode).toBe(503);
    // Three attempts of 300 ms, not stopped early.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('answers 503 for a store error worth retrying, 500 for anything else', async () => {
    const store = new InMemoryEntityStore();
    const lookup = createHandler(() => ({ store, maxEntities: 10, rolePrefix: 'fp-test' }));
    vi.spyOn(store, 'load').mockRejectedValueOnce(
      new OnlineStoreError('3 keys stayed unprocessed', 'online'),
    );
    expect((await lookup(event)).statusCode).toBe(503);
    vi.spyOn(store, 'load').mockRejectedValueOnce(new TypeError('a bug'));
    expect((await lookup(event)).statusCode).toBe(500);
    expect(
      readConfig(lookupConfigSchema, { ONLINE_TABLE: 't', ACCESS_ROLE_PREFIX: 'p' })
        .LOOKUP_REQUEST_TIMEOUT_MS,
    ).toBe(1_000);
  });
});
