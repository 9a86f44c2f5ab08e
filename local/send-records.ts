/**
 * The former minimal PutRecords helper, now a thin wrapper over the producer client's sender
 * (clients/feature-event-producer.ts: batching, partial-failure retries with jittered backoff,
 * order per partition key). Kept only for callers still on this signature; new code uses
 * `FeatureEventProducer#send` or `#sendRaw`.
 */
import type { KinesisClient, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { RecordSender } from '../clients/producer/record-sender.js';

export interface SendResult {
  readonly sent: number;
  /** Records not sent, with the service's error code (`InvalidRecord` for one Kinesis would refuse). */
  readonly unsent: readonly { readonly index: number; readonly errorCode: string }[];
}

/** @deprecated use `FeatureEventProducer#sendRaw` */
export async function sendRecords(
  kinesis: KinesisClient,
  streamName: string,
  entries: readonly PutRecordsRequestEntry[],
  onProgress: (sent: number) => void = () => {},
  maxAttempts = 6,
): Promise<SendResult> {
  const sender = new RecordSender({
    kinesis: () => kinesis,
    streamName,
    maxAttempts,
    backoff: { baseDelayMs: 50, maxDelayMs: 2000, random: Math.random },
    ordering: 'batched',
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  const report = await sender.send(
    entries.map((e) => ({ partitionKey: e.PartitionKey ?? '', data: e.Data ?? new Uint8Array() })),
    { onProgress: (p) => onProgress(p.sent) },
  );
  const invalid = report.rejected.map((r) => ({ index: r.index, errorCode: 'InvalidRecord' }));
  return {
    sent: report.sent,
    unsent: [...report.unsent, ...invalid].sort((a, b) => a.index - b.index),
  };
}
