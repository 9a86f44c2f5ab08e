import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Context, KinesisStreamRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { STREAM_SOURCE_DEFAULTS, type StreamSourceSettings } from '../../lib/platform-spec.js';
import {
  type Attempt,
  type BatchRunnerDeps,
  classifyResponse,
  FunctionTimeoutError,
  invokeHandler,
  runBatch,
} from '../../local/esm/invocation.js';
import { LocalEventSourceMapping } from '../../local/event-source-mapping.js';
import { invocationRecord, onFailureObjectKey } from '../../local/on-failure-destination.js';

/** Sequence numbers longer than a double's precision, so a numeric mix-up would show. */
const seq = (i: number) => `4959${'0'.repeat(50)}${String(i).padStart(3, '0')}`;
const record = (i: number, arrivalSeconds = 1_700_000_000 + i): KinesisStreamRecord => ({
  kinesis: {
    kinesisSchemaVersion: '1.0',
    partitionKey: `k${i}`,
    sequenceNumber: seq(i),
    data: Buffer.from(i === 5 ? 'poison' : `r${i}`).toString('base64'),
    approximateArrivalTimestamp: arrivalSeconds,
  },
  eventSource: 'aws:kinesis',
  eventVersion: '1.0',
  eventID: `shardId-000000000000:${seq(i)}`,
  eventName: 'aws:kinesis:record',
  invokeIdentityArn: 'arn:aws:iam::000000000000:role/processor-role',
  awsRegion: 'me-central-1',
  eventSourceARN: 'arn:aws:kinesis:me-central-1:000000000000:stream/s',
});
const batchOf = (n: number) => Array.from({ length: n }, (_, i) => record(i));
const ids = (records: readonly KinesisStreamRecord[]) =>
  records.map((r) => Number(r.kinesis.sequenceNumber.slice(-3)));

describe('classifyResponse', () => {
  const batch = batchOf(4);
  it.each([
    ['void', undefined],
    ['null', null],
    ['an empty object', {}],
    ['a null list', { batchItemFailures: null }],
    ['an empty list', { batchItemFailures: [] }],
  ])('treats %s as complete success', (_, response) => {
    expect(classifyResponse(response, batch, 'r').outcome).toBe('ok');
  });

  it('checkpoints at the lowest reported sequence number, whatever the order of the list', () => {
    const response = {
      batchItemFailures: [{ itemIdentifier: seq(3) }, { itemIdentifier: seq(1) }, { itemIdentifier: seq(2) }],
    };
    expect(classifyResponse(response, batch, 'r')).toEqual({
      outcome: 'partial',
      requestId: 'r',
      failedFrom: 1,
    });
  });

  it.each([
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['a wrong key name', { batchItemFailures: [{ itemId: seq(1) }] }],
    ['an identifier outside the batch', { batchItemFailures: [{ itemIdentifier: seq(9) }] }],
    ['a list that is not a list', { batchItemFailures: seq(1) }],
  ])('treats %s as a complete failure that is not a function error', (_, response) => {
    expect(classifyResponse(response, batch, 'r')).toMatchObject({ outcome: 'error', functionError: false });
  });
});

/** Runs a batch against a scripted function; records invocations and given-up records. */
async function run(
  batch: KinesisStreamRecord[],
  settings: Partial<StreamSourceSettings>,
  answer: (records: readonly KinesisStreamRecord[], call: number) => Attempt['outcome'] | number,
  clock: () => number = () => 1_700_000_100_000,
) {
  const calls: number[][] = [];
  const givenUp: { ids: number[]; condition: string; invokes: number }[] = [];
  const succeeded: number[] = [];
  const deps: BatchRunnerDeps = {
    settings: { ...STREAM_SOURCE_DEFAULTS, ...settings },
    retryBackoffMs: 1,
    invoke: async (records) => {
      calls.push(ids(records));
      const a = answer(records, calls.length);
      if (typeof a === 'number') return { outcome: 'partial', requestId: 'r', failedFrom: a };
      if (a === 'error')
        return { outcome: 'error', requestId: 'r', functionError: true, error: new Error('boom') };
      return { outcome: 'ok', requestId: 'r' };
    },
    succeeded: (records) => succeeded.push(...ids(records)),
    giveUp: async ({ records, condition, approximateInvokeCount }) => {
      givenUp.push({ ids: ids(records), condition, invokes: approximateInvokeCount });
    },
    sleep: async () => true,
    stopped: () => false,
    now: clock,
  };
  const result = await runBatch(batch, deps);
  return { result, calls, givenUp, succeeded };
}

const failsOnPoison = (records: readonly KinesisStreamRecord[]) =>
  records.some((r) => r.kinesis.data === Buffer.from('poison').toString('base64')) ? 'error' : 'ok';

describe('runBatch (retry policy)', () => {
  it('without bisect invokes a failing batch 1 + retryAttempts times, then gives it up whole', async () => {
    const { calls, givenUp, succeeded } = await run(
      batchOf(3),
      { bisectBatchOnError: false, retryAttempts: 2 },
      () => 'error',
    );
    expect(calls).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(givenUp).toEqual([{ ids: [0, 1, 2], condition: 'RetryAttemptsExhausted', invokes: 3 }]);
    expect(succeeded).toEqual([]);
  });

  it('with bisect splits without spending retries, first half first, and retries the lone poison record', async () => {
    const { calls, givenUp, succeeded } = await run(
      batchOf(8),
      { bisectBatchOnError: true, retryAttempts: 2 },
      failsOnPoison,
    );
    expect(calls).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7],
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [4, 5],
      [4],
      [5],
      [5],
      [5],
      [6, 7],
    ]);
    expect(givenUp).toEqual([{ ids: [5], condition: 'RetryAttemptsExhausted', invokes: 6 }]);
    expect(succeeded).toEqual([0, 1, 2, 3, 4, 6, 7]);
  });

  it('counts a partial failure as a retry and retries only from the reported record on', async () => {
    const { calls, givenUp, succeeded } = await run(
      batchOf(4),
      { bisectBatchOnError: true, retryAttempts: 1 },
      (records) => (records.length === 4 ? 2 : 0),
    );
    expect(calls).toEqual([
      [0, 1, 2, 3],
      [2, 3],
    ]);
    expect(succeeded).toEqual([0, 1]);
    expect(givenUp).toEqual([{ ids: [2, 3], condition: 'RetryAttemptsExhausted', invokes: 2 }]);
  });

  it('gives up records older than maxRecordAgeSeconds before invoking, and invokes the rest', async () => {
    const batch = [record(0, 1_700_000_000), record(1, 1_700_000_090)];
    const { calls, givenUp } = await run(
      batch,
      { maxRecordAgeSeconds: 60 },
      () => 'ok',
      () => 1_700_000_100_000,
    );
    expect(givenUp).toEqual([{ ids: [0], condition: 'RecordAgeExceeded', invokes: 0 }]);
    expect(calls).toEqual([[1]]);
  });

  it('retries forever with retryAttempts -1 until the records are too old', async () => {
    let now = 1_700_000_000_000; // the record's arrival; each failed invocation takes 10 s here
    const settings = { retryAttempts: -1, maxRecordAgeSeconds: 60, bisectBatchOnError: false };
    const fail = () => {
      now += 10_000;
      return 'error' as const;
    };
    const { calls, givenUp } = await run([record(0, 1_700_000_000)], settings, fail, () => now);
    expect(calls).toHaveLength(7); // at ages 0, 10, ..., 60 s
    expect(givenUp).toEqual([{ ids: [0], condition: 'RecordAgeExceeded', invokes: 7 }]);
  });

  it('stops between attempts once the mapping stops, completing nothing more', async () => {
    const deps: BatchRunnerDeps = {
      settings: { ...STREAM_SOURCE_DEFAULTS, bisectBatchOnError: false },
      retryBackoffMs: 1,
      invoke: async () => ({
        outcome: 'error',
        requestId: 'r',
        functionError: true,
        error: new Error('boom'),
      }),
      succeeded: () => expect.fail('nothing succeeded'),
      giveUp: async () => expect.fail('nothing is given up'),
      sleep: async () => false,
      stopped: () => false,
      now: () => 1_700_000_100_000,
    };
    expect(await runBatch(batchOf(2), deps)).toBe('stopped');
  });
});

describe('invokeHandler', () => {
  const context = { awsRequestId: 'req-1' } as Context;

  it('fails an invocation that outlives the function timeout', async () => {
    const attempt = await invokeHandler(() => new Promise(() => undefined), batchOf(1), context, 20);
    expect(attempt).toMatchObject({
      outcome: 'error',
      functionError: true,
      error: expect.any(FunctionTimeoutError),
    });
  });

  it('turns a synchronous throw into a function error', async () => {
    const attempt = await invokeHandler(
      () => {
        throw new TypeError('sync');
      },
      batchOf(1),
      context,
      1_000,
    );
    expect(attempt).toMatchObject({ outcome: 'error', functionError: true, requestId: 'req-1' });
  });

  it('delivers a copy of the records, so a mutating handler cannot change a retry', async () => {
    const batch = batchOf(1);
    await invokeHandler(
      async (event) => {
        (event.Records[0] as KinesisStreamRecord).kinesis.data = 'mutated';
      },
      batch,
      context,
      1_000,
    );
    expect(batch[0]?.kinesis.data).toBe(Buffer.from('r0').toString('base64'));
  });
});

describe('on-failure invocation records', () => {
  it('names S3 objects as AWS does: aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>', () => {
    const at = new Date('2026-03-04T05:06:07.890Z');
    expect(onFailureObjectKey('failed/', 'esm-1', 'shardId-000000000002', at, 'u-1')).toBe(
      'failed/aws/lambda/esm-1/shardId-000000000002/2026/03/04/2026-03-04T05.06.07-u-1',
    );
  });

  it('describes the given-up records and keeps their payload', () => {
    const records = [record(3, 1_700_000_000.123), record(4, 1_700_000_001.5)];
    const built = invocationRecord({
      records,
      shardId: 'shardId-000000000000',
      streamArn: 'arn:aws:kinesis:me-central-1:000000000000:stream/s',
      functionArn: 'arn:aws:lambda:me-central-1:000000000000:function:processor',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 3,
      requestId: 'req-9',
      functionError: 'Unhandled',
      now: new Date('2026-01-01T00:00:00.000Z'),
    });
    expect(built).toEqual({
      requestContext: {
        requestId: 'req-9',
        functionArn: 'arn:aws:lambda:me-central-1:000000000000:function:processor',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2026-01-01T00:00:00.000Z',
      KinesisBatchInfo: {
        shardId: 'shardId-000000000000',
        startSequenceNumber: seq(3),
        endSequenceNumber: seq(4),
        approximateArrivalOfFirstRecord: '2023-11-14T22:13:20.123Z',
        approximateArrivalOfLastRecord: '2023-11-14T22:13:21.500Z',
        batchSize: 2,
        streamArn: 'arn:aws:kinesis:me-central-1:000000000000:stream/s',
      },
      payload: { Records: records },
    });
  });
});

describe('LocalEventSourceMapping settings', () => {
  const kinesis = {} as KinesisClient;
  it.each<[string, Partial<StreamSourceSettings>]>([
    ['batchSize 0', { batchSize: 0 }],
    ['batchSize 10,001', { batchSize: 10_001 }],
    ['parallelizationFactor 11', { parallelizationFactor: 11 }],
    ['retryAttempts -2', { retryAttempts: -2 }],
    ['maxRecordAgeSeconds 0', { maxRecordAgeSeconds: 0 }],
    ['a batching window over 300 s', { maxBatchingWindowMs: 300_001 }],
  ])('rejects %s at construction', (_, settings) => {
    expect(
      () =>
        new LocalEventSourceMapping({ kinesis, streamName: 's', handler: async () => undefined, settings }),
    ).toThrow(RangeError);
  });
});
