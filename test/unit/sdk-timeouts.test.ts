/**
 * An AWS endpoint that accepts connections and never answers (a hung DynamoDB) fails the processor's
 * calls within the configured request timeout (shared/config.ts sdkClientConfig), so the invocation
 * ends with its records failed, which parks those near the age limit, instead of hanging until the
 * function times out, which parks nothing. Without the timeouts the SDK waits for ever: this test
 * then times out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import { InMemoryOfflineSink, InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { dynamoDbClientConfig, processorConfigSchema, readConfig } from '../../lambdas/shared/config.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { type HungEndpoint, hungEndpoint } from '../support/hung-endpoint.js';
import { envelope, inputRecords, transaction } from '../support/records.js';

describe('AWS SDK timeouts', () => {
  let hung: HungEndpoint;
  beforeAll(async () => {
    hung = await hungEndpoint();
  });
  afterAll(() => hung.close());

  it('a hung DynamoDB fails the batch, with a timeout among its errors, instead of hanging the invocation', async () => {
    const entities = new DynamoDbEntityStore({
      tableName: 'online',
      clientConfig: {
        ...dynamoDbClientConfig(200),
        endpoint: hung.url,
        region: 'me-central-1',
        credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
      },
    });
    const started = Date.now();
    const result = await processBatch(inputRecords([envelope(transaction({ customerId: 'cus_hung1' }))]), {
      contracts,
      groupsFedBy,
      entities,
      offline: new InMemoryOfflineSink(),
      sideOutput: new InMemorySideOutput(),
      sleep: async () => {},
    });
    expect(result.failed).toHaveLength(1);
    expect(
      result.errors.map((e) => `${e.message} ${String((e as { cause?: unknown }).cause)}`).join(' '),
    ).toMatch(/timed? ?out|Timeout/i);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it('reads the request timeout from the processor configuration, 10 s unless set, refusing one under 100 ms', () => {
    const base = {
      ONLINE_TABLE: 't',
      OFFLINE_BUCKET: 'b',
      SIDE_OUTPUT_BUCKET: 's',
      PII_TOKEN_KEY: 'k',
      PII_SEAL_KEY: 'k',
    };
    expect(readConfig(processorConfigSchema, base).SDK_REQUEST_TIMEOUT_MS).toBe(10_000);
    expect(
      readConfig(processorConfigSchema, { ...base, SDK_REQUEST_TIMEOUT_MS: '2500' }).SDK_REQUEST_TIMEOUT_MS,
    ).toBe(2500);
    expect(() => readConfig(processorConfigSchema, { ...base, SDK_REQUEST_TIMEOUT_MS: '10' })).toThrow(
      'SDK_REQUEST_TIMEOUT_MS must be at least 100 milliseconds',
    );
    expect(dynamoDbClientConfig().requestHandler).toEqual({
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      throwOnRequestTimeout: true,
    });
  });
});
