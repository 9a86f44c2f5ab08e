/**
 * `npm run redrive -- --from-stream` on the stand-ins: records the event source mapping gave up and
 * could not write to its on-failure bucket are only in the stream. The CLI sends a window of the
 * stream back; the real processor, over the real stores, applies the lost record once and finds the
 * others of the window duplicates, counted once.
 *
 * The mapping is played by the test on a stream of its own (no mapping of the platform reads it):
 * the records around the lost one are processed where they stand, the lost one never is.
 */
import { randomBytes } from 'node:crypto';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { InputRecord } from '../../lambdas/core/decode.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { createProcessorDeps } from '../../lambdas/processor/deps.js';
import { processorConfigSchema, readConfig } from '../../lambdas/shared/config.js';
import { localKinesisClient, localS3Client } from '../../local/clients.js';
import type { LocalPlatform } from '../../local/platform.js';
import type { FromStreamReport } from '../../offline/redrive/from-stream.js';
import { runCli } from '../support/cli.js';
import { envelope, transaction } from '../support/records.js';
import { readParquetRows } from '../support/s3.js';
import { startTestPlatform } from '../support/test-platform.js';

const SHARD = 'shardId-000000000000';

describe('npm run redrive -- --from-stream', () => {
  const standIns = inject('standIns');
  const kinesis = localKinesisClient(standIns);
  const s3 = localS3Client(standIns);
  const suffix = randomBytes(4).toString('hex');
  const stream = `lost-${suffix}`;
  let platform: LocalPlatform;

  /** The stream's records after `after` (from its start without), as the mapping hands them over. */
  const readStream = async (after?: string): Promise<InputRecord[]> => {
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: SHARD,
        ...(after
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    const out = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
    return (out.Records ?? []).map((r) => ({
      recordId: `${SHARD}:${r.SequenceNumber}`,
      shardId: SHARD,
      sequenceNumber: r.SequenceNumber as string,
      partitionKey: r.PartitionKey as string,
      arrivalTime: (r.ApproximateArrivalTimestamp as Date).getTime(),
      data: Buffer.from(r.Data as Uint8Array).toString('base64'),
    }));
  };
  const fromStreamCli = (...args: string[]) =>
    runCli<FromStreamReport>('redrive', [
      '--from-stream',
      '--endpoints',
      platform.endpointsFile,
      '--stream',
      stream,
      ...args,
    ]);

  beforeAll(async () => {
    platform = await startTestPlatform(standIns, 'from-stream', { shardCount: 1 });
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    for (let i = 0; i < 50; i++) {
      const d = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`stream ${stream} did not become active`);
  }, 60_000);
  afterAll(async () => {
    await platform?.stop();
  });

  it('sends a window of the stream back: the lost record applied once, the others duplicates', async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const customers = ['before', 'lost', 'after'].map((c) => `cus_fs${c}${suffix}`);
    const events = customers.map((customerId, i) =>
      transaction({ customerId, merchantId: `mer_fs${suffix}`, eventTime: iso(now - 5000 + i * 1000) }),
    );
    const since = new Date(Date.now() - 1000);
    const put = await kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: events.map((e) => ({
          PartitionKey: e.customerId,
          Data: new TextEncoder().encode(envelope(e)),
        })),
      }),
    );
    expect(put.FailedRecordCount).toBe(0);
    const originals = await readStream();
    expect(originals.map((r) => r.partitionKey)).toEqual(customers);
    // The mapping: the first record's batch succeeded; the second was given up and its on-failure
    // write refused (lost); the third's batch succeeded after it.
    const deps = createProcessorDeps(readConfig(processorConfigSchema, process.env));
    for (const record of [originals[0], originals[2]] as InputRecord[])
      expect((await processBatch([record], deps)).counts.applied).toBe(1);
    const customerRows = async () =>
      (await readParquetRows(s3, platform.names.offlineBucket, 'features/group=customer/'))
        .map((r) => r.customer_id)
        .filter((c) => customers.includes(c as string));
    expect((await customerRows()).sort()).toEqual([customers[0], customers[2]].sort());

    const untilNow = () => ['--until', new Date().toISOString()];
    const dry = await fromStreamCli('--since', since.toISOString(), ...untilNow(), '--dry-run');
    expect(dry).toMatchObject({ records: 3, sent: 0, dryRun: true });
    expect(await readStream(originals[2]?.sequenceNumber)).toEqual([]);

    const report = await fromStreamCli('--since', since.toISOString(), ...untilNow());
    expect(report).toMatchObject({
      records: 3,
      sent: 3,
      shards: [{ shardId: SHARD, records: 3, sent: 3 }],
      dryRun: false,
    });
    const copies = await readStream(originals[2]?.sequenceNumber);
    expect(copies.map((r) => r.partitionKey)).toEqual(customers);
    expect(copies.map((r) => r.data)).toEqual(originals.map((r) => r.data));

    const result = await processBatch(copies, deps);
    expect(result.counts).toMatchObject({ applied: 1, duplicate: 2, quarantined: 0, late: 0 });
    expect(result.outcomes.get(copies[1]?.recordId as string)).toBe('applied');
    // Every customer's event once in its feature history, the lost one included.
    expect((await customerRows()).sort()).toEqual([...customers].sort());

    // A window that holds only the copies (after the originals) sends them again: duplicates too.
    const again = await fromStreamCli(
      '--since',
      new Date((copies[0]?.arrivalTime as number) - 1).toISOString(),
      ...untilNow(),
    );
    expect(again).toMatchObject({ records: 3, sent: 3 });
    const twice = await processBatch(await readStream(copies[2]?.sequenceNumber), deps);
    expect(twice.counts).toMatchObject({ applied: 0, duplicate: 3 });
    expect((await customerRows()).sort()).toEqual([...customers].sort());
  }, 90_000);

  it('refuses a window that ends before it starts or after the run, one with no end, and a shard the stream does not have, naming them', async () => {
    await expect(
      fromStreamCli('--since', '2026-11-27T10:00:00Z', '--until', '2026-11-27T09:00:00Z'),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('must be before until') });
    // Ending after the run starts, it would read its own copies back and send them again.
    await expect(
      fromStreamCli('--since', '2026-11-27T10:00:00Z', '--until', '2099-01-01T00:00:00Z'),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('must not be after the run starts') });
    await expect(fromStreamCli('--since', '2026-11-27T10:00:00Z')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--until is required'),
    });
    await expect(
      fromStreamCli(
        '--since',
        '2026-11-27T10:00:00Z',
        '--until',
        '2026-11-27T11:00:00Z',
        '--shard',
        'shardId-000000000009',
      ),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no such shard in the stream: shardId-000000000009'),
    });
    await expect(
      fromStreamCli('--since', 'yesterday', '--until', '2026-11-27T11:00:00Z'),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--since must be an ISO 8601 time'),
    });
  }, 60_000);
});
