/** Builders for stream records and transaction events used across tests. */
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { InputRecord } from '../../lambdas/core/decode.js';

export const BASE_TIME = Date.parse('2026-11-25T10:00:00.000Z');

export interface TransactionFields {
  eventId: string;
  customerId: string;
  merchantId: string;
  amountMinor: number;
  currency: string;
  country: string;
  channel: string;
  customerEmail: string;
  eventTime: string;
}

let counter = 0;
export function transaction(overrides: Partial<TransactionFields> = {}): TransactionFields {
  counter++;
  return {
    eventId: `evt_test_${String(counter).padStart(8, '0')}`,
    customerId: 'cus_0001',
    merchantId: 'mer_0001',
    amountMinor: 1250,
    currency: 'AED',
    country: 'AE',
    channel: 'pos',
    customerEmail: 'cus_0001@example.ae',
    eventTime: new Date(BASE_TIME).toISOString(),
    ...overrides,
  };
}

/** A record payload; the current contract version unless told (older versions are upgraded by the processor). */
export const envelope = (event: unknown, contract = 'transaction', version = 2): string =>
  JSON.stringify({ contract, version, event });

/**
 * A sequence number laid out as Kinesis makes them (56 decimal digits; the layout kinesalite
 * reverse-engineered): the shard's creation time, the record's counter in the middle, its arrival
 * second and the shard index below. So consecutive records differ by about 2^112, not by a few units:
 * what an item stores of them is measured at its real size.
 */
export function kinesisSequence(shardIndex: number, counter: number, arrivalTime: number): string {
  const hex = (n: number | bigint, width: number) => n.toString(16).padStart(width, '0').slice(-width);
  const created = Math.floor((BASE_TIME - 86_400_000) / 1000);
  return BigInt(
    `0x2${hex(created, 9)}${hex(shardIndex, 1)}${hex(counter, 16)}00${hex(Math.floor(arrivalTime / 1000), 9)}${hex(shardIndex, 8)}2`,
  ).toString();
}

/** Sequence number of the first test record on a shard; later batches start at `FIRST_SEQUENCE + n`. */
export const FIRST_SEQUENCE = 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000n;

/** The customer id in a payload, as a producer would use it for the partition key. */
const partitionKeyOf = (payload: string): string => {
  try {
    return String((JSON.parse(payload) as { event?: { customerId?: string } }).event?.customerId ?? 'none');
  } catch {
    return 'none';
  }
};

/** Stream records for payloads, on one shard with increasing sequence numbers, keyed by customer id. */
export function inputRecords(
  payloads: readonly string[],
  options: { shardId?: string; firstSequence?: bigint; arrivalTime?: number } = {},
): InputRecord[] {
  const shardId = options.shardId ?? 'shardId-000000000000';
  const first = options.firstSequence ?? FIRST_SEQUENCE;
  return payloads.map((payload, i) => {
    const sequenceNumber = String(first + BigInt(i) * 10n);
    return {
      recordId: `${shardId}:${sequenceNumber}`,
      shardId,
      sequenceNumber,
      partitionKey: partitionKeyOf(payload),
      arrivalTime: options.arrivalTime ?? BASE_TIME + 1_000,
      data: Buffer.from(payload).toString('base64'),
    };
  });
}

/** The same records as Lambda delivers them. */
export function kinesisEvent(records: readonly InputRecord[]): KinesisStreamEvent {
  return {
    Records: records.map(
      (r): KinesisStreamRecord => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber: r.sequenceNumber,
          data: r.data,
          approximateArrivalTimestamp: r.arrivalTime / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: r.recordId,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/processor',
        awsRegion: 'me-central-1',
        eventSourceARN: 'arn:aws:kinesis:me-central-1:000000000000:stream/test',
      }),
    ),
  };
}
