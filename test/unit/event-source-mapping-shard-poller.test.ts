import {
  type _Record,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { STREAM_SOURCE_DEFAULTS } from '../../lib/platform-spec.js';
import { ShardPoller } from '../../local/esm/shard-poller.js';

const kinesis = new KinesisClient({
  region: 'me-central-1',
  credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
});
const mock = mockClient(kinesis);
afterEach(() => mock.reset());

const seq = (i: number) => `4959${'0'.repeat(60)}${i}`;
const kinesisRecord = (i: number): _Record => ({
  SequenceNumber: seq(i),
  PartitionKey: `k${i}`,
  Data: Buffer.from(`r${i}`),
  ApproximateArrivalTimestamp: new Date(1_700_000_000_000 + i),
});
const $metadata = {};

function poller(batches: string[][]) {
  const abort = new AbortController();
  const shard = new ShardPoller({
    kinesis,
    streamName: 's',
    shardId: 'shardId-000000000000',
    startingPosition: 'TRIM_HORIZON',
    settings: { ...STREAM_SOURCE_DEFAULTS, batchSize: 10, maxBatchingWindowMs: 0 },
    pollIntervalMs: 1,
    signal: abort.signal,
    identity: { region: 'me-central-1', accountId: '000000000000', functionName: 'f', streamArn: 'arn' },
    processBatch: async (records: readonly KinesisStreamRecord[]) => {
      batches.push(records.map((r) => r.kinesis.sequenceNumber));
      return 'completed';
    },
  });
  return { shard, abort };
}

describe('ShardPoller', () => {
  it('re-acquires an expired iterator after the last record read and backs off when throttled', async () => {
    mock
      .on(GetShardIteratorCommand)
      .resolvesOnce({ ShardIterator: 'it-1' })
      .resolvesOnce({ ShardIterator: 'it-2' });
    mock
      .on(GetRecordsCommand)
      .resolvesOnce({
        Records: [kinesisRecord(1), kinesisRecord(2)],
        NextShardIterator: 'it-1b',
        MillisBehindLatest: 0,
      })
      .rejectsOnce(new ExpiredIteratorException({ message: 'Iterator expired', $metadata }))
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata }))
      .resolvesOnce({ Records: [kinesisRecord(3)], NextShardIterator: undefined, MillisBehindLatest: 0 });
    const batches: string[][] = [];
    const { shard } = poller(batches);

    await shard.run();

    expect(batches).toEqual([[seq(1), seq(2)], [seq(3)]]);
    expect(shard.state).toBe('finished');
    const iterators = mock.commandCalls(GetShardIteratorCommand).map((c) => c.args[0].input);
    expect(iterators).toEqual([
      { StreamName: 's', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' },
      {
        StreamName: 's',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: seq(2),
      },
    ]);
    expect(mock.commandCalls(GetRecordsCommand).map((c) => c.args[0].input.ShardIterator)).toEqual([
      'it-1',
      'it-1b',
      'it-2',
      'it-2',
    ]);
  });

  it('stops the shard on an error it cannot handle instead of swallowing it', async () => {
    mock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    mock
      .on(GetRecordsCommand)
      .rejects(new ResourceNotFoundException({ message: 'Stream s not found', $metadata }));
    const { shard } = poller([]);

    await expect(shard.run()).rejects.toThrow('Stream s not found');
    expect(shard.state).toBe('failed');
  });

  it('counts as caught up only after an empty read with nothing pending, and stops on abort', async () => {
    mock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    mock.on(GetRecordsCommand).resolves({ Records: [], NextShardIterator: 'it-1', MillisBehindLatest: 0 });
    const { shard, abort } = poller([]);
    const before = Date.now();

    const running = shard.run();
    while (shard.caughtUpAt < before) await new Promise((r) => setTimeout(r, 1));
    abort.abort();
    await running;

    expect(shard.state).toBe('stopped');
  });
});
