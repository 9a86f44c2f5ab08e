/**
 * `StreamReader` on Kinesis: ListShards, then per shard an AT_TIMESTAMP iterator and GetRecords
 * until the window's end, the shard's end or its latest record. Reads pause a second between calls,
 * well under a shard's five GetRecords a second (shared with the processor's mapping); the SDK
 * retries throttling.
 * kinesalite never answers an AT_TIMESTAMP request past a shard's last record: on the stand-ins
 * (`fromTrimHorizon`) a shard is read from its start, and the records before the window are skipped.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  type KinesisClientConfig,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type { StreamReader, StreamRecord } from './from-stream.js';

export interface KinesisStreamReaderProps {
  readonly streamName: string;
  readonly clientConfig?: KinesisClientConfig;
  readonly client?: KinesisClient;
  /**
   * Pause between two GetRecords calls on a shard: a shard takes five a second, and the processor's
   * mapping polls it too. @default 1000
   */
  readonly pauseMs?: number;
  /** GetRecords page size. @default 10000 (the most Kinesis returns) */
  readonly limit?: number;
  /** Read each shard from its start (TRIM_HORIZON) instead of at the window's start: for kinesalite. @default false */
  readonly fromTrimHorizon?: boolean;
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class KinesisStreamReader implements StreamReader {
  readonly #client: KinesisClient;
  constructor(private readonly props: KinesisStreamReaderProps) {
    this.#client = props.client ?? new KinesisClient(props.clientConfig ?? {});
  }

  async shardIds(): Promise<string[]> {
    const ids: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await this.#client.send(
        new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: this.props.streamName }),
      );
      for (const s of out.Shards ?? []) if (s.ShardId) ids.push(s.ShardId);
      nextToken = out.NextToken;
    } while (nextToken);
    return ids;
  }

  async *read(shardId: string, since: Date, until: Date): AsyncIterable<readonly StreamRecord[]> {
    const start = await this.#client.send(
      new GetShardIteratorCommand({
        StreamName: this.props.streamName,
        ShardId: shardId,
        ...(this.props.fromTrimHorizon
          ? { ShardIteratorType: 'TRIM_HORIZON' }
          : { ShardIteratorType: 'AT_TIMESTAMP', Timestamp: since }),
      }),
    );
    let iterator = start.ShardIterator;
    while (iterator) {
      const out = await this.#client.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: this.props.limit ?? 10_000 }),
      );
      const page: StreamRecord[] = (out.Records ?? []).map((r) => ({
        partitionKey: r.PartitionKey as string,
        data: r.Data as Uint8Array,
        sequenceNumber: r.SequenceNumber as string,
        arrivedAt: r.ApproximateArrivalTimestamp as Date,
      }));
      if (page.length > 0) yield page;
      const last = page.at(-1);
      // Past the window, or at the shard's latest record (nothing newer than the window's end yet).
      if ((last && last.arrivedAt >= until) || (page.length === 0 && out.MillisBehindLatest === 0)) return;
      iterator = out.NextShardIterator; // none once a closed shard is read to its end
      if (iterator) await pause(this.props.pauseMs ?? 1000);
    }
  }
}
