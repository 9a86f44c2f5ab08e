import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Context, KinesisStreamBatchResponse, KinesisStreamRecord } from 'aws-lambda';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import type { StreamSourceSettings } from '../../lib/platform-spec.js';
import { localKinesisClient, localS3Client } from '../../local/clients.js';
import {
  type KinesisHandler,
  LocalEventSourceMapping,
  type LocalEventSourceMappingProps,
} from '../../local/event-source-mapping.js';
import {
  InMemoryOnFailureDestination,
  type OnFailureInvocationRecord,
  S3OnFailureDestination,
} from '../../local/on-failure-destination.js';
import { uniquePrefix } from '../support/resources.js';

const endpoints = inject('standIns');
const kinesis = localKinesisClient(endpoints);
const s3 = localS3Client(endpoints);
const mappings: LocalEventSourceMapping[] = [];

afterEach(async () => {
  await Promise.all(mappings.splice(0).map((m) => m.stop()));
});
afterAll(() => {
  kinesis.destroy();
  s3.destroy();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function untilActive(streamName: string): Promise<void> {
  for (;;) {
    const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(10);
  }
}

async function createStream(shards = 1): Promise<string> {
  const streamName = uniquePrefix('esm');
  await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shards }));
  await untilActive(streamName);
  return streamName;
}

interface Put {
  readonly key: string;
  readonly data: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
}

/** PutRecords in order; returns where each record landed. */
async function put(streamName: string, records: readonly { key: string; data: string }[]): Promise<Put[]> {
  const out = await kinesis.send(
    new PutRecordsCommand({
      StreamName: streamName,
      Records: records.map((r) => ({ PartitionKey: r.key, Data: Buffer.from(r.data) })),
    }),
  );
  expect(out.FailedRecordCount ?? 0).toBe(0);
  return (out.Records ?? []).map((r, i) => ({
    ...(records[i] as { key: string; data: string }),
    shardId: r.ShardId ?? '',
    sequenceNumber: r.SequenceNumber ?? '',
  }));
}

const numbered = (n: number, key = (i: number) => `k${i % 7}`) =>
  Array.from({ length: n }, (_, i) => ({ key: key(i), data: JSON.stringify({ i }) }));

interface Call {
  readonly records: KinesisStreamRecord[];
  readonly context: Context;
  readonly startedAt: number;
  endedAt?: number;
}

/** A handler double that records each invocation and answers with `respond` (void by default). */
function recorder(
  respond?: (records: KinesisStreamRecord[], call: number) => Promise<KinesisStreamBatchResponse | undefined>,
) {
  const calls: Call[] = [];
  const handler: KinesisHandler = async (event, context) => {
    const call: Call = { records: event.Records, context, startedAt: performance.now() };
    calls.push(call);
    try {
      return await respond?.(event.Records, calls.length);
    } finally {
      call.endedAt = performance.now();
    }
  };
  const seqs = (call: Call | undefined) => (call?.records ?? []).map((r) => r.kinesis.sequenceNumber);
  const text = (r: KinesisStreamRecord) => Buffer.from(r.kinesis.data, 'base64').toString();
  return { calls, handler, seqs, text };
}

function mapping(
  streamName: string,
  handler: KinesisHandler,
  settings: Partial<StreamSourceSettings> = {},
  extra: Partial<LocalEventSourceMappingProps> = {},
): LocalEventSourceMapping {
  const esm = new LocalEventSourceMapping({
    kinesis,
    streamName,
    handler,
    settings: { maxBatchingWindowMs: 0, ...settings },
    pollIntervalMs: 20,
    retryBackoffMs: 5,
    shardDiscoveryIntervalMs: 50,
    ...extra,
  });
  mappings.push(esm);
  return esm;
}

/** Records every timer created until restore(); pending() lists those neither fired nor cleared. */
function trackTimers() {
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  const live = new Map<NodeJS.Timeout, string>();
  let count = 0;
  globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = realSet(() => {
      live.delete(timer);
      fn(...args);
    }, ms);
    live.set(timer, new Error().stack?.split('\n').slice(2, 4).join(' <- ') ?? '');
    count += 1;
    return timer;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((timer: NodeJS.Timeout | undefined) => {
    if (timer) live.delete(timer);
    realClear(timer);
  }) as typeof clearTimeout;
  return {
    created: () => count,
    pending: () => [...live].filter(([timer]) => timer.hasRef()).map(([, where]) => where),
    restore: () => Object.assign(globalThis, { setTimeout: realSet, clearTimeout: realClear }),
  };
}

describe('LocalEventSourceMapping against kinesalite', () => {
  it('delivers every record once, in shard order, as a well-formed KinesisStreamEvent', async () => {
    const streamName = await createStream(2);
    const before = Date.now();
    const puts = await put(streamName, numbered(40));
    const after = Date.now();
    const { calls, handler } = recorder();
    const esm = mapping(streamName, handler, { batchSize: 100 });

    await esm.start();
    await esm.drain();

    const delivered = calls.flatMap((c) => c.records);
    expect(delivered.map((r) => r.kinesis.sequenceNumber).sort()).toEqual(
      puts.map((p) => p.sequenceNumber).sort(),
    );
    for (const shardId of new Set(puts.map((p) => p.shardId))) {
      const inShard = delivered
        .filter((r) => r.eventID.startsWith(`${shardId}:`))
        .map((r) => r.kinesis.sequenceNumber);
      expect(inShard).toEqual(puts.filter((p) => p.shardId === shardId).map((p) => p.sequenceNumber));
    }
    for (const p of puts) {
      const record = delivered.find((r) => r.kinesis.sequenceNumber === p.sequenceNumber);
      expect(record).toEqual({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: p.key,
          sequenceNumber: p.sequenceNumber,
          data: Buffer.from(p.data).toString('base64'),
          approximateArrivalTimestamp: expect.any(Number),
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${p.shardId}:${p.sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/processor-role',
        awsRegion: endpoints.region,
        eventSourceARN: `arn:aws:kinesis:${endpoints.region}:000000000000:stream/${streamName}`,
      });
      const arrival = record?.kinesis.approximateArrivalTimestamp ?? 0;
      expect(arrival).toBeGreaterThanOrEqual(Math.floor(before / 1000) - 1);
      expect(arrival).toBeLessThanOrEqual(after / 1000 + 1);
    }
    expect(new Set(calls.map((c) => c.context.awsRequestId)).size).toBe(calls.length);
    expect(calls[0]?.context.functionName).toBe('processor');
    expect(calls[0]?.context.invokedFunctionArn).toBe(
      `arn:aws:lambda:${endpoints.region}:000000000000:function:processor`,
    );
    expect(esm.stats).toMatchObject({
      recordsDelivered: 40,
      recordsSucceeded: 40,
      recordsSentToOnFailure: 0,
    });
  });

  it('respects batchSize: 25 records with batchSize 10 arrive as batches of 10, 10 and 5', async () => {
    const streamName = await createStream();
    const puts = await put(streamName, numbered(25));
    const { calls, handler, seqs } = recorder();
    const esm = mapping(streamName, handler, { batchSize: 10 });

    await esm.start();
    await esm.drain();

    expect(calls.map((c) => c.records.length)).toEqual([10, 10, 5]);
    expect(calls.flatMap((c) => seqs(c))).toEqual(puts.map((p) => p.sequenceNumber));
  });

  it('gathers records that arrive spread over the batching window into one batch', async () => {
    const streamName = await createStream();
    const { calls, handler } = recorder();
    const esm = mapping(streamName, handler, { batchSize: 100, maxBatchingWindowMs: 700 });
    await esm.start();

    for (let wave = 0; wave < 3; wave += 1) {
      await put(streamName, numbered(3));
      await sleep(120);
    }
    await esm.drain();

    expect(calls.map((c) => c.records.length)).toEqual([9]);
  });

  it('on batchItemFailures retries from the lowest failed sequence number only', async () => {
    const streamName = await createStream();
    const puts = await put(streamName, numbered(10));
    const seq = puts.map((p) => p.sequenceNumber);
    const { calls, handler, seqs } = recorder(async (_, call) =>
      call === 1
        ? { batchItemFailures: [{ itemIdentifier: seq[6] as string }, { itemIdentifier: seq[3] as string }] }
        : undefined,
    );
    const esm = mapping(streamName, handler, { batchSize: 10 });

    await esm.start();
    await esm.drain();

    expect(calls).toHaveLength(2);
    expect(seqs(calls[0])).toEqual(seq);
    expect(seqs(calls[1])).toEqual(seq.slice(3));
    expect(esm.stats).toMatchObject({ partialFailures: 1, recordsSucceeded: 10, recordsDelivered: 17 });
  });

  it.each([
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['a wrong key name', { batchItemFailures: [{ itemId: '1' }] }],
    ['a sequence number not in the batch', { batchItemFailures: [{ itemIdentifier: '12345' }] }],
  ])('fails the whole batch on %s', async (_, response) => {
    const streamName = await createStream();
    const puts = await put(streamName, numbered(4));
    const { calls, handler, seqs } = recorder(async (_, call) =>
      call === 1 ? (response as unknown as KinesisStreamBatchResponse) : undefined,
    );
    const esm = mapping(streamName, handler, { batchSize: 10, bisectBatchOnError: false });

    await esm.start();
    await esm.drain();

    expect(calls.map((c) => seqs(c))).toEqual([
      puts.map((p) => p.sequenceNumber),
      puts.map((p) => p.sequenceNumber),
    ]);
    expect(esm.stats).toMatchObject({ invalidResponses: 1, recordsSucceeded: 4 });
  });

  it('isolates a poison record by bisecting: the rest succeeds, the poison lands in S3 with its payload', async () => {
    const streamName = await createStream();
    const bucket = uniquePrefix('esm-failed');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const records = numbered(12).map((r, i) => (i === 5 ? { key: 'k5', data: 'poison' } : r));
    const puts = await put(streamName, records);
    const poison = puts[5] as Put;
    const { calls, handler, seqs, text } = recorder(async (batch) => {
      if (batch.some((r) => text(r) === 'poison')) throw new Error('cannot parse');
      return undefined;
    });
    const onFailure = new S3OnFailureDestination({ s3, bucket, prefix: 'failed/' });
    const esm = mapping(
      streamName,
      handler,
      { batchSize: 8, retryAttempts: 1, bisectBatchOnError: true },
      { onFailure },
    );

    await esm.start();
    await esm.drain();

    const succeeded = calls
      .filter((c) => !c.records.some((r) => text(r) === 'poison'))
      .flatMap((c) => seqs(c));
    expect(succeeded).toEqual(puts.filter((p) => p !== poison).map((p) => p.sequenceNumber));
    expect(calls.filter((c) => seqs(c).includes(poison.sequenceNumber)).map((c) => c.records.length)).toEqual(
      [8, 4, 2, 1, 1],
    );
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'failed/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key ?? '');
    expect(keys).toHaveLength(1);
    const keyPattern = `^failed/aws/lambda/${esm.uuid}/${poison.shardId}/\\d{4}/\\d{2}/\\d{2}/\\d{4}-\\d{2}-\\d{2}T\\d{2}\\.\\d{2}\\.\\d{2}-[0-9a-f-]{36}$`;
    expect(keys[0]).toMatch(new RegExp(keyPattern));
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[0] }));
    const stored = JSON.parse((await object.Body?.transformToString()) ?? '{}') as OnFailureInvocationRecord;
    expect(stored.requestContext).toMatchObject({
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 5,
    });
    expect(stored.responseContext.functionError).toBe('Unhandled');
    expect(stored.KinesisBatchInfo).toMatchObject({
      shardId: poison.shardId,
      startSequenceNumber: poison.sequenceNumber,
      endSequenceNumber: poison.sequenceNumber,
      batchSize: 1,
      streamArn: `arn:aws:kinesis:${endpoints.region}:000000000000:stream/${streamName}`,
    });
    expect(stored.payload.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString())).toEqual([
      'poison',
    ]);
    expect(esm.stats).toMatchObject({ recordsSucceeded: 11, recordsSentToOnFailure: 1 });
  });

  it('bounds retries by retryAttempts: a failing batch is invoked 1 + retryAttempts times, then the shard moves on', async () => {
    const streamName = await createStream();
    const puts = await put(streamName, [...numbered(3).map((r) => ({ ...r, data: 'bad' })), ...numbered(2)]);
    const { calls, handler, seqs, text } = recorder(async (batch) => {
      if (batch.some((r) => text(r) === 'bad')) throw new Error('always fails');
      return undefined;
    });
    const onFailure = new InMemoryOnFailureDestination();
    const esm = mapping(
      streamName,
      handler,
      { batchSize: 3, retryAttempts: 2, bisectBatchOnError: false },
      { onFailure },
    );

    await esm.start();
    await esm.drain();

    const bad = puts.slice(0, 3).map((p) => p.sequenceNumber);
    expect(calls.map((c) => seqs(c))).toEqual([bad, bad, bad, puts.slice(3).map((p) => p.sequenceNumber)]);
    expect(onFailure.sent.map(({ record }) => record.requestContext)).toEqual([
      expect.objectContaining({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 }),
    ]);
    expect(onFailure.sequenceNumbers).toEqual(bad);
  });

  it('gives up records older than maxRecordAgeSeconds instead of retrying them forever', async () => {
    const streamName = await createStream();
    const puts = await put(streamName, numbered(2));
    const { calls, handler } = recorder(async () => {
      throw new Error('always fails');
    });
    const onFailure = new InMemoryOnFailureDestination();
    const esm = mapping(
      streamName,
      handler,
      { retryAttempts: -1, maxRecordAgeSeconds: 0.5, bisectBatchOnError: false },
      { onFailure },
    );

    await esm.start();
    await esm.drain();

    expect(calls.length).toBeGreaterThan(1);
    expect(onFailure.sent.map(({ record }) => record.requestContext.condition)).toEqual([
      'RecordAgeExceeded',
    ]);
    expect(onFailure.sequenceNumbers).toEqual(puts.map((p) => p.sequenceNumber));
  });

  it('drain() resolves only after every record is completed, and stop() leaves no timers behind', async () => {
    const streamName = await createStream();
    await put(streamName, numbered(20));
    const { handler } = recorder(() => sleep(40).then(() => undefined));
    const timers = trackTimers();
    try {
      const esm = mapping(streamName, handler, { batchSize: 5, maxBatchingWindowMs: 50 });

      await esm.start();
      await esm.drain();
      expect(esm.stats.recordsSucceeded).toBe(20);
      await esm.stop();

      expect(timers.created()).toBeGreaterThan(0);
      expect(timers.pending()).toEqual([]);
    } finally {
      timers.restore();
    }
  });

  it('with parallelizationFactor 4 runs batches of one shard concurrently, in order per partition key', async () => {
    const streamName = await createStream();
    const puts = await put(
      streamName,
      numbered(80, (i) => `key-${i % 8}`),
    );
    let running = 0;
    let maxRunning = 0;
    const { calls, handler } = recorder(async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await sleep(20);
      running -= 1;
      return undefined;
    });
    const esm = mapping(streamName, handler, { batchSize: 5, parallelizationFactor: 4 });

    await esm.start();
    await esm.drain();

    expect(maxRunning).toBeGreaterThan(1);
    const delivered = calls.flatMap((c) => c.records);
    expect(delivered).toHaveLength(80);
    for (let k = 0; k < 8; k += 1) {
      const key = `key-${k}`;
      const got = delivered
        .filter((r) => r.kinesis.partitionKey === key)
        .map((r) => r.kinesis.sequenceNumber);
      expect(got).toEqual(puts.filter((p) => p.key === key).map((p) => p.sequenceNumber));
    }
  });

  it('after a shard split, processes the child shards only once the parent is finished', async () => {
    const streamName = await createStream();
    const first = await put(
      streamName,
      numbered(6, () => 'same-key'),
    );
    const { calls, handler } = recorder(() => sleep(30).then(() => undefined));
    const esm = mapping(streamName, handler, { batchSize: 2 });
    await esm.start();

    const parent = first[0]?.shardId ?? '';
    await kinesis.send(
      new SplitShardCommand({
        StreamName: streamName,
        ShardToSplit: parent,
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await untilActive(streamName);
    const second = await put(
      streamName,
      numbered(6, () => 'same-key'),
    );
    await esm.drain();

    expect(second.every((p) => p.shardId !== parent)).toBe(true);
    const delivered = calls.flatMap((c) => c.records.map((r) => r.kinesis.sequenceNumber));
    expect(delivered).toEqual([...first, ...second].map((p) => p.sequenceNumber));
    const parentEnd = Math.max(
      ...calls.filter((c) => c.records[0]?.eventID.startsWith(parent)).map((c) => c.endedAt ?? 0),
    );
    const childStart = Math.min(
      ...calls.filter((c) => !c.records[0]?.eventID.startsWith(parent)).map((c) => c.startedAt),
    );
    expect(childStart).toBeGreaterThanOrEqual(parentEnd);
    expect(esm.stats.shardsFinished).toBe(1);
  });
});
