/**
 * Redrive's bookkeeping on an in-memory bucket and a fake stream: records go back oldest first per
 * object, an object goes only once all of its records were taken, anything else is left and said.
 * (End to end through the real processor: test/integration/redrive.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { RawRecord, SendReport } from '../../clients/feature-event-producer.js';
import { invocationRecord } from '../../local/on-failure-destination.js';
import { redrive } from '../../offline/redrive/redrive.js';
import { MemoryObjectStore } from '../support/memory-object-store.js';
import { envelope, FIRST_SEQUENCE, inputRecords, kinesisEvent, transaction } from '../support/records.js';

const SHARD = 'shardId-000000000000';
const given = (customers: string[], firstSequence = FIRST_SEQUENCE) => {
  const records = kinesisEvent(
    inputRecords(
      customers.map((customerId) => envelope(transaction({ customerId }))),
      { firstSequence },
    ).map((r, i) => ({ ...r, partitionKey: customers[i] as string })),
  ).Records;
  return new TextEncoder().encode(
    JSON.stringify(
      invocationRecord({
        records: [...records].reverse(), // stored in any order: sent back in sequence order
        shardId: SHARD,
        streamArn: 'arn:aws:kinesis:me-central-1:000000000000:stream/s',
        functionArn: 'arn:aws:lambda:me-central-1:000000000000:function:p',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 6,
      }),
    ),
  );
};

function stream(takes: (r: RawRecord) => boolean = () => true) {
  const sent: string[] = [];
  const send = async (records: readonly RawRecord[]): Promise<SendReport> => {
    const unsent = records.flatMap((r, index) =>
      takes(r) ? [] : [{ index, errorCode: 'ProvisionedThroughputExceededException' }],
    );
    for (const r of records) if (takes(r)) sent.push(r.partitionKey);
    return { sent: records.length - unsent.length, rejected: [], unsent };
  };
  return { sent, send };
}

describe('redrive', () => {
  it('sends every record back, oldest first, and deletes each object once all of it is in the stream', async () => {
    const store = new MemoryObjectStore();
    store.objects.set(
      `aws/lambda/u/${SHARD}/2026/11/26/2026-11-26T10.00.00-a`,
      given(['cus_a001', 'cus_b001']),
    );
    store.objects.set(
      `aws/lambda/u/${SHARD}/2026/11/26/2026-11-26T10.05.00-b`,
      given(['cus_c001'], FIRST_SEQUENCE + 100n),
    );
    store.objects.set('quarantine/x.json', new TextEncoder().encode('{}'));
    const { sent, send } = stream();

    const report = await redrive({ store, send });

    expect(sent).toEqual(['cus_a001', 'cus_b001', 'cus_c001']);
    expect([...store.objects.keys()]).toEqual(['quarantine/x.json']);
    expect(report).toMatchObject({
      objects: 2,
      records: 3,
      sent: 3,
      objectsDeleted: 2,
      kept: [],
      unreadable: [],
    });
  });

  it('keeps an object some of whose records were not taken, and one it cannot read, saying why', async () => {
    const store = new MemoryObjectStore();
    const partly = `aws/lambda/u/${SHARD}/2026/11/26/2026-11-26T10.00.00-a`;
    store.objects.set(partly, given(['cus_a001', 'cus_b001']));
    store.objects.set(`aws/lambda/u/${SHARD}/2026/11/26/x`, new TextEncoder().encode('not json'));
    const { send } = stream((r) => r.partitionKey !== 'cus_b001');

    const report = await redrive({ store, send });

    expect(store.objects.has(partly)).toBe(true);
    expect(report.kept).toEqual([
      { key: partly, reason: '1 of 2 records not sent (not taken: ProvisionedThroughputExceededException)' },
    ]);
    expect(report.unreadable).toEqual([`aws/lambda/u/${SHARD}/2026/11/26/x`]);
  });

  it('sends and deletes nothing on a dry run', async () => {
    const store = new MemoryObjectStore();
    store.objects.set(`aws/lambda/u/${SHARD}/2026/11/26/2026-11-26T10.00.00-a`, given(['cus_a001']));
    const { sent, send } = stream();

    const report = await redrive({ store, send }, { dryRun: true });

    expect(sent).toEqual([]);
    expect(store.objects.size).toBe(1);
    expect(report).toMatchObject({ dryRun: true, records: 1, sent: 0, objectsDeleted: 0 });
  });
});
