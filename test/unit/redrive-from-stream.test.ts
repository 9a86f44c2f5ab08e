/**
 * The window a redrive from the stream sends back (offline/redrive/from-stream.ts), and how the
 * Kinesis reader walks a shard (offline/redrive/kinesis-stream-reader.ts): AT_TIMESTAMP in AWS, to
 * the window's end, the shard's end or its latest record.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { RawRecord, SendReport } from '../../clients/feature-event-producer.js';
import {
  FromStreamError,
  redriveFromStream,
  type StreamReader,
  type StreamRecord,
} from '../../offline/redrive/from-stream.js';
import { KinesisStreamReader } from '../../offline/redrive/kinesis-stream-reader.js';

const T0 = Date.parse('2026-11-27T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);
const rec = (key: string, s: number, seq: string): StreamRecord => ({
  partitionKey: key,
  data: new TextEncoder().encode(`${key}@${s}`),
  sequenceNumber: seq,
  arrivedAt: at(s),
});

/** Shards' records, served in pages of two, past the window's start (as AT_TIMESTAMP would). */
function memoryReader(shards: Record<string, StreamRecord[]>): StreamReader {
  return {
    shardIds: async () => Object.keys(shards),
    async *read(shardId, since, until) {
      const records = (shards[shardId] ?? []).filter((r) => r.arrivedAt >= since);
      for (let i = 0; i < records.length; i += 2) {
        const page = records.slice(i, i + 2);
        yield page;
        if ((page.at(-1) as StreamRecord).arrivedAt >= until) return;
      }
    },
  };
}

/** Takes every record, or refuses from the `refuseFrom`-th one sent (counting from 0). */
function sink(refuseFrom = Number.POSITIVE_INFINITY) {
  const sent: string[] = [];
  const send = async (records: readonly RawRecord[]): Promise<SendReport> => {
    const report: { sent: number; unsent: SendReport['unsent'][number][] } = { sent: 0, unsent: [] };
    records.forEach((r, index) => {
      if (sent.length >= refuseFrom || report.unsent.length > 0)
        report.unsent.push({
          index,
          errorCode:
            report.unsent.length > 0 ? 'PrecedingRecordUnsent' : 'ProvisionedThroughputExceededException',
        });
      else {
        sent.push(new TextDecoder().decode(r.data));
        report.sent++;
      }
    });
    return { sent: report.sent, rejected: [], unsent: report.unsent };
  };
  return { sent, send };
}

describe('redriveFromStream', () => {
  const shards = {
    // Out of order on purpose: the child is listed first.
    'shardId-000000000002': [rec('b', 20, '2000'), rec('b', 40, '2001')],
    'shardId-000000000000': [
      rec('a', 5, '100'),
      rec('a', 10, '101'),
      rec('c', 15, '102'),
      rec('a', 30, '103'),
    ],
  };

  it('sends back the records that arrived in the window, parents before children, each under its key', async () => {
    const { sent, send } = sink();
    const report = await redriveFromStream(
      { reader: memoryReader(shards), send },
      { since: at(10), until: at(35) },
    );
    expect(sent).toEqual(['a@10', 'c@15', 'a@30', 'b@20']);
    expect(report).toMatchObject({
      since: at(10).toISOString(),
      until: at(35).toISOString(),
      records: 4,
      sent: 4,
      dryRun: false,
      shards: [
        { shardId: 'shardId-000000000000', records: 3, sent: 3 },
        { shardId: 'shardId-000000000002', records: 1, sent: 1 },
      ],
    });
  });

  it('ends the window when the run starts unless told, so that its own copies are never read back', async () => {
    const { sent, send } = sink();
    await redriveFromStream(
      { reader: memoryReader(shards), send, now: () => at(25).getTime() },
      { since: at(0) },
    );
    expect(sent).toEqual(['a@5', 'a@10', 'c@15', 'b@20']);
  });

  it('stops a shard at its first record not sent, naming it, and goes on with the next shard', async () => {
    const { sent, send } = sink(2);
    const report = await redriveFromStream(
      { reader: memoryReader({ 'shardId-000000000000': shards['shardId-000000000000'] }), send },
      { since: at(0), until: at(60) },
    );
    // The second page (c@15, a@30) is refused from its first record; nothing after it is sent.
    expect(sent).toEqual(['a@5', 'a@10']);
    expect(report.shards).toEqual([
      {
        shardId: 'shardId-000000000000',
        records: 4,
        sent: 2,
        firstUnsent: { sequenceNumber: '102', reason: 'not taken: ProvisionedThroughputExceededException' },
      },
    ]);
  });

  it('counts without sending in a dry run, and reads only the shards named', async () => {
    const { sent, send } = sink();
    const report = await redriveFromStream(
      { reader: memoryReader(shards), send },
      { since: at(0), until: at(60), shards: ['shardId-000000000002'], dryRun: true },
    );
    expect(sent).toEqual([]);
    expect(report).toMatchObject({
      records: 2,
      sent: 0,
      dryRun: true,
      shards: [{ shardId: 'shardId-000000000002' }],
    });
  });

  it('refuses an empty window, one ending after the run starts (it would read its own copies), and an unknown shard', async () => {
    const deps = { reader: memoryReader(shards), send: sink().send, now: () => at(100).getTime() };
    await expect(redriveFromStream(deps, { since: at(10), until: at(10) })).rejects.toThrow(FromStreamError);
    await expect(redriveFromStream(deps, { since: at(10), until: at(101) })).rejects.toThrow(
      'must not be after the run starts',
    );
    await expect(
      redriveFromStream(deps, { since: at(0), until: at(1), shards: ['shardId-9'] }),
    ).rejects.toThrow('no such shard in the stream: shardId-9');
  });
});

describe('KinesisStreamReader', () => {
  const kinesis = mockClient(KinesisClient);
  afterEach(() => kinesis.reset());
  const page = (records: [string, number][], next: string | undefined, behind: number) => ({
    Records: records.map(([seq, s]) => ({
      SequenceNumber: seq,
      PartitionKey: 'k',
      Data: new Uint8Array([1]),
      ApproximateArrivalTimestamp: at(s),
    })),
    NextShardIterator: next,
    MillisBehindLatest: behind,
  });
  const shard = (ShardId: string) => ({
    ShardId,
    HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
    SequenceNumberRange: { StartingSequenceNumber: '0' },
  });
  const reader = () =>
    new KinesisStreamReader({ streamName: 's', client: kinesis as unknown as KinesisClient, pauseMs: 0 });
  const readAll = async (since: Date, until: Date) => {
    const pages: string[][] = [];
    for await (const p of reader().read('shardId-000000000000', since, until))
      pages.push(p.map((r) => r.sequenceNumber));
    return pages;
  };

  it('lists every shard, page by page', async () => {
    kinesis
      .on(ListShardsCommand, { StreamName: 's' })
      .resolves({ Shards: [shard('shardId-000000000000')], NextToken: 't' })
      .on(ListShardsCommand, { NextToken: 't' })
      .resolves({ Shards: [shard('shardId-000000000001')] });
    expect(await reader().shardIds()).toEqual(['shardId-000000000000', 'shardId-000000000001']);
  });

  it('starts at the window (AT_TIMESTAMP) and stops at the shard’s latest record', async () => {
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'i0' });
    kinesis
      .on(GetRecordsCommand, { ShardIterator: 'i0' })
      .resolves(page([['1', 10]], 'i1', 5000))
      .on(GetRecordsCommand, { ShardIterator: 'i1' })
      .resolves(page([], 'i2', 3000)) // empty while behind: read on
      .on(GetRecordsCommand, { ShardIterator: 'i2' })
      .resolves(page([['2', 12]], 'i3', 0))
      .on(GetRecordsCommand, { ShardIterator: 'i3' })
      .resolves(page([], 'i4', 0));
    expect(await readAll(at(10), at(60))).toEqual([['1'], ['2']]);
    expect(kinesis.commandCalls(GetShardIteratorCommand)[0]?.args[0].input).toEqual({
      StreamName: 's',
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'AT_TIMESTAMP',
      Timestamp: at(10),
    });
    expect(kinesis.commandCalls(GetRecordsCommand).map((c) => c.args[0].input.ShardIterator)).toEqual([
      'i0',
      'i1',
      'i2',
      'i3',
    ]);
  });

  it('stops once past the window’s end, and at the end of a closed shard', async () => {
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'i0' });
    kinesis.on(GetRecordsCommand, { ShardIterator: 'i0' }).resolves(
      page(
        [
          ['1', 10],
          ['2', 70],
        ],
        'i1',
        9000,
      ),
    );
    expect(await readAll(at(10), at(60))).toEqual([['1', '2']]);
    expect(kinesis.commandCalls(GetRecordsCommand)).toHaveLength(1);

    kinesis.reset();
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'i0' });
    kinesis.on(GetRecordsCommand, { ShardIterator: 'i0' }).resolves(page([['1', 10]], undefined, 9000));
    expect(await readAll(at(10), at(60))).toEqual([['1']]);
  });
});
