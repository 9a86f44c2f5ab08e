/**
 * The processor's AWS calls stop short of the invocation's end (lambdas/shared/deadline.ts), so a
 * batch whose calls all hang ends with its failures reported and its old records parked, instead of
 * timing out, which parks nothing: the SDK's request timeout bounds one attempt, not 300 writes in
 * rounds of 32.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import { InMemoryOfflineSink, InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { createProcessorDeps } from '../../lambdas/processor/deps.js';
import { createHandler } from '../../lambdas/processor/handler.js';
import { dynamoDbClientConfig, processorConfigSchema, readConfig } from '../../lambdas/shared/config.js';
import {
  deadlineReserves,
  dynamoDbReserve,
  InvocationDeadline,
  OutOfTimeError,
  refuseNearDeadline,
} from '../../lambdas/shared/deadline.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { BASE_TIME, envelope, inputRecords, kinesisEvent, transaction } from '../support/records.js';

const TABLE = 'online';
const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' };

/**
 * A DynamoDB that keeps the customers it saves and reads them back (any other entity reads as new),
 * but never answers a merchant's save while `merchants.hang`, and refuses it otherwise: the
 * authority decides and applies, the other group's writes hang or fail.
 */
function hangingMerchantWrites(): Promise<{
  server: Server;
  sockets: Socket[];
  endpoint: string;
  merchants: { hang: boolean };
}> {
  const merchants = { hang: true };
  const items = new Map<string, unknown>();
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    let buffered = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const head = buffered.indexOf('\r\n\r\n');
        if (head < 0) return;
        const headers = buffered.subarray(0, head).toString('latin1');
        const length = Number(/content-length: *(\d+)/i.exec(headers)?.[1] ?? 0);
        if (buffered.length < head + 4 + length) return;
        const body = buffered.subarray(head + 4, head + 4 + length).toString('utf8');
        buffered = buffered.subarray(head + 4 + length);
        const target = /x-amz-target: *DynamoDB_20120810\.(\w+)/i.exec(headers)?.[1];
        let answer: string | undefined;
        let status = '200 OK';
        if (target === 'BatchGetItem') {
          const keys = (
            JSON.parse(body) as { RequestItems: Record<string, { Keys: { pk: { S: string } }[] }> }
          ).RequestItems[TABLE]?.Keys;
          const found = (keys ?? []).flatMap((k) => (items.has(k.pk.S) ? [items.get(k.pk.S)] : []));
          answer = JSON.stringify({ Responses: { [TABLE]: found } });
        } else if (target === 'PutItem' && !body.includes('"merchant#')) {
          const { Item } = JSON.parse(body) as { Item: { pk: { S: string } } };
          items.set(Item.pk.S, Item);
          answer = '{}';
        } else if (target === 'PutItem' && !merchants.hang) {
          status = '400 Bad Request';
          answer = JSON.stringify({
            __type: 'com.amazon.coral.service#AccessDeniedException',
            message: 'no',
          });
        }
        if (answer === undefined) continue; // hangs
        socket.write(
          `HTTP/1.1 ${status}\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: ${Buffer.byteLength(answer)}\r\n\r\n${answer}`,
        );
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (!address || typeof address === 'string') throw new Error('no port');
      resolve({ server, sockets, endpoint: `http://127.0.0.1:${address.port}`, merchants });
    }),
  );
}

describe('the invocation deadline', () => {
  let fake: Awaited<ReturnType<typeof hangingMerchantWrites>>;
  beforeAll(async () => {
    fake = await hangingMerchantWrites();
  });
  afterAll(async () => {
    for (const s of fake.sockets) s.destroy();
    await new Promise((resolve) => fake.server.close(resolve));
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  // 300 records of 300 customers and merchants, decided by their customers when they arrived (their
  // merchants refused then), all past the park age now. Unguarded, the 300 hanging
  // merchant saves take some 11 s: 10 rounds of 32 attempts of 1 s, and the first 50 retries (the
  // SDK's retry quota); the invocation has 8. Guarded, writes stop with 5 s left, reads with 3 s (an attempt in flight and its retry wait apart).
  // Built once per run (the builders number event ids), for entities of the run's own (`tag`).
  const oldRecords = (tag: string) =>
    inputRecords(
      Array.from({ length: 300 }, (_, i) =>
        envelope(
          transaction({
            customerId: `cus_dl${tag}${String(i).padStart(4, '0')}`,
            merchantId: `mer_dl${tag}${String(i).padStart(4, '0')}`,
          }),
        ),
      ),
      { arrivalTime: BASE_TIME },
    );
  const run = async (guard: boolean) => {
    const deadline = new InvocationDeadline();
    deadline.begin({ getRemainingTimeInMillis: () => 8_000 });
    const client = new DynamoDBClient({
      ...dynamoDbClientConfig(1_000),
      endpoint: fake.endpoint,
      region: 'me-central-1',
      credentials,
    });
    const sideOutput = new InMemorySideOutput();
    const deps = {
      contracts,
      groupsFedBy,
      entities: new DynamoDbEntityStore({
        tableName: TABLE,
        client: guard
          ? refuseNearDeadline(
              client,
              deadline,
              dynamoDbReserve({ s3Ms: 1_000, dynamoDbReadsMs: 3_000, dynamoDbWritesMs: 5_000 }),
            )
          : client,
      }),
      offline: new InMemoryOfflineSink(),
      sideOutput,
      sleep: async () => {},
      parkAfterMs: 22 * 3_600_000,
    };
    const records = oldRecords(guard ? 'g' : 'u');
    fake.merchants.hang = false;
    const young = await processBatch(records, { ...deps, now: () => BASE_TIME + 60_000 });
    expect(young.failed).toHaveLength(300);
    fake.merchants.hang = true;
    deadline.begin({ getRemainingTimeInMillis: () => 8_000 });
    const started = Date.now();
    const result = await processBatch(records, { ...deps, now: () => BASE_TIME + 23 * 3_600_000 });
    return { result, elapsed: Date.now() - started, sideOutput, deadline };
  };

  it('stops the calls in time: the batch ends before the invocation does, its old records parked for the group that hung', async () => {
    const { result, elapsed, sideOutput } = await run(true);
    expect(elapsed).toBeLessThan(8_000);
    expect(result.failed).toEqual([]);
    expect(result.counts.applied).toBe(300);
    expect(result.parked).toBe(300);
    expect(
      result.parkErrors.some((e) => String((e as { cause?: unknown }).cause).includes('OutOfTimeError')),
    ).toBe(true);
    const parked = [...sideOutput.entries.values()].filter((e) => e.kind === 'parked');
    expect(parked).toHaveLength(300);
    expect(parked.every((e) => e.groups?.join() === 'merchant')).toBe(true);
  }, 30_000);

  it('without the guard, the same batch outlasts the invocation (what the guard prevents)', async () => {
    const { elapsed } = await run(false);
    expect(elapsed).toBeGreaterThan(8_000);
  }, 60_000);

  it("wires the deployed handler's clients to its context: with no time left, nothing is sent and the batch fails whole", async () => {
    // Nothing listens on port 9; a call that reached the network would fail otherwise (not OutOfTimeError).
    for (const service of ['DYNAMODB', 'S3', 'KMS', 'SECRETS_MANAGER'])
      vi.stubEnv(`AWS_ENDPOINT_URL_${service}`, 'http://127.0.0.1:9');
    vi.stubEnv('AWS_REGION', 'me-central-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', credentials.secretAccessKey);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    const config = readConfig(processorConfigSchema, {
      ONLINE_TABLE: TABLE,
      OFFLINE_BUCKET: 'offline',
      SIDE_OUTPUT_BUCKET: 'side',
      S3_FORCE_PATH_STYLE: 'true',
      PII_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:me-central-1:000000000000:secret:token',
      PII_KMS_KEY_ID: 'arn:aws:kms:me-central-1:000000000000:key/pii',
    });
    const handler = createHandler((deadline) => createProcessorDeps(config, deadline));
    const reserves = deadlineReserves(config.SDK_REQUEST_TIMEOUT_MS);
    // Secrets Manager (the tokenization key, read first), then DynamoDB, then S3 and KMS (a quarantined record).
    const context = (ms: number) => ({ getRemainingTimeInMillis: () => ms });
    const valid = inputRecords([envelope(transaction({ customerId: 'cus_dlwire' }))]);
    await expect(handler(kinesisEvent(valid), context(0))).rejects.toThrow(/OutOfTimeError|not sent/);
    const malformed = inputRecords(['{not json'], {
      firstSequence: 49_700_000_000_000_000_000_000_000_000_000_000_000_000_000n,
    });
    const failure = await handler(kinesisEvent(malformed), context(reserves.s3Ms - 1_000)).catch(
      (e: Error) => e,
    );
    expect(String(failure)).toMatch(/no record of the batch completed/);
    expect(String((failure as Error).message)).toMatch(/not sent/);
  });

  it('stops DynamoDB writes, then its reads, then S3, each two attempts apart', () => {
    const reserves = deadlineReserves(10_000);
    expect(reserves).toEqual({ s3Ms: 26_000, dynamoDbReadsMs: 52_000, dynamoDbWritesMs: 78_000 });
    const ofCommand = dynamoDbReserve(reserves);
    expect(['BatchGetItemCommand', 'GetItemCommand', 'QueryCommand'].map(ofCommand)).toEqual([
      52_000, 52_000, 52_000,
    ]);
    expect(['PutItemCommand', 'UpdateItemCommand', 'TransactWriteItemsCommand'].map(ofCommand)).toEqual([
      78_000, 78_000, 78_000,
    ]);
  });

  it('has no deadline outside an invocation, and refuses with a transient error', () => {
    let now = 1_000;
    const deadline = new InvocationDeadline(() => now);
    expect(deadline.remainingMs()).toBe(Number.POSITIVE_INFINITY);
    deadline.begin({ getRemainingTimeInMillis: () => 5_000 });
    now += 2_000;
    expect(deadline.remainingMs()).toBe(3_000);
    deadline.begin(undefined);
    expect(deadline.remainingMs()).toBe(Number.POSITIVE_INFINITY);
    expect((new OutOfTimeError('x') as { permanent?: boolean }).permanent).toBeUndefined();
  });
});
