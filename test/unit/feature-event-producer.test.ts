import {
  InternalFailureException,
  KinesisClient,
  ProvisionedThroughputExceededException,
  PutRecordsCommand,
  type PutRecordsCommandInput,
  type PutRecordsCommandOutput,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  FeatureEventProducer,
  type FeatureEventProducerProps,
  KINESIS_LIMITS,
  ProducerConfigError,
  ProducerRequestError,
} from '../../clients/feature-event-producer.js';
import { eventFromCsv, eventFromParquet } from '../../clients/producer/coerce.js';
import { parseCsv } from '../../clients/producer/csv.js';
import { transaction as contract } from '../../schemas/transaction.contract.js';
import { BASE_TIME, transaction as fields, type TransactionFields } from '../support/records.js';

type Transaction = z.input<typeof contract.schema>;
/** A test event as the typed API takes it; invalid ones are cast, as data from outside would arrive. */
const transaction = (overrides: Partial<TransactionFields> = {}) => fields(overrides) as Transaction;

const kinesis = new KinesisClient({
  region: 'me-central-1',
  credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
});
const mock = mockClient(kinesis);
afterEach(() => mock.reset());

const MiB = 1024 * 1024;
const $metadata = {};

/** A producer on the mocked client that records its waits instead of sleeping. */
function producer(overrides: Partial<FeatureEventProducerProps<typeof contract.schema>> = {}) {
  const delays: number[] = [];
  const p = new FeatureEventProducer({
    kinesis,
    streamName: 'transactions',
    contract,
    now: () => BASE_TIME + 60_000,
    random: () => 0.5,
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...overrides,
  });
  return { p, delays };
}

/** Kinesis answering per record: `fail` returns an error code for a record it should fail. */
function answer(
  fail: (record: { key: string; data: string }, call: number) => string | undefined = () => undefined,
) {
  let call = 0;
  mock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput): PutRecordsCommandOutput => {
    call++;
    const Records = (input.Records ?? []).map((r, i) => {
      const code = fail({ key: r.PartitionKey ?? '', data: Buffer.from(r.Data ?? []).toString() }, call);
      return code
        ? {
            ErrorCode: code,
            ErrorMessage: code === 'InternalFailure' ? 'Internal Service Failure' : 'slow down',
          }
        : {
            SequenceNumber: `4960${String(call).padStart(4, '0')}${String(i).padStart(4, '0')}`,
            ShardId: 's0',
          };
    });
    return { FailedRecordCount: Records.filter((r) => r.ErrorCode).length, Records, $metadata };
  });
}

/** What each PutRecords call carried: the event ids (or raw payloads) in request order. */
const requests = (): string[][] =>
  mock.commandCalls(PutRecordsCommand).map((c) =>
    (c.args[0].input.Records ?? []).map((r) => {
      const text = Buffer.from(r.Data ?? []).toString();
      try {
        return String((JSON.parse(text) as { event: { eventId: string } }).event.eventId);
      } catch {
        return text;
      }
    }),
  );

const key = (i: number) => `cus_k${String(i).padStart(4, '0')}`;
const events = (n: number, keyOf = key) =>
  Array.from({ length: n }, (_, i) =>
    transaction({ eventId: `evt_${String(i).padStart(6, '0')}`, customerId: keyOf(i) }),
  );
const id = (i: number) => `evt_${String(i).padStart(6, '0')}`;
const raw = (key: string, bytes: number) => ({ partitionKey: key, data: new Uint8Array(bytes).fill(120) });

describe('FeatureEventProducer', () => {
  it('sends each event in the envelope {contract, version, event}, keyed by its partitionKeyField', async () => {
    answer();
    const e = transaction({ customerId: 'cus_env1' });

    const report = await producer().p.send([e]);

    expect(report).toEqual({ sent: 1, rejected: [], unsent: [] });
    const [record] = mock.commandCalls(PutRecordsCommand)[0]?.args[0].input.Records ?? [];
    expect(record?.PartitionKey).toBe('cus_env1');
    expect(JSON.parse(Buffer.from(record?.Data ?? []).toString())).toEqual({
      contract: 'transaction',
      version: contract.version,
      event: e,
    });
    expect(mock.commandCalls(PutRecordsCommand)[0]?.args[0].input.StreamName).toBe('transactions');
  });

  it.each([
    [1, [1]],
    [500, [500]],
    [501, [500, 1]],
    [1001, [500, 500, 1]],
  ])('puts %i events in requests of %j records', async (n, sizes) => {
    answer();

    const report = await producer().p.send(events(n));

    expect(report.sent).toBe(n);
    expect(requests().map((r) => r.length)).toEqual(sizes);
    expect(requests().flat()).toEqual(events(n).map((e) => e.eventId));
  });

  it.each([
    ['five records of exactly 1 MiB (data + key) share one request', [1, 1, 1, 1, 1].map(() => MiB - 2), [5]],
    ['a sixth 1 MiB record starts a second request', [1, 1, 1, 1, 1, 1].map(() => MiB - 2), [5, 1]],
    [
      'partition key bytes count: 5 MiB of data plus the keys needs two requests',
      [MiB - 100, MiB - 100, MiB - 100, MiB - 100, MiB - 100, 500],
      [5, 1],
    ],
  ])('splits at 5 MiB: %s', async (_, sizes, requestSizes) => {
    answer();
    const records = sizes.map((bytes, i) => raw(`k${i}`, bytes));

    const report = await producer().p.sendRaw(records);

    expect(report).toEqual({ sent: sizes.length, rejected: [], unsent: [] });
    const calls = mock.commandCalls(PutRecordsCommand).map((c) => c.args[0].input.Records ?? []);
    expect(calls.map((c) => c.length)).toEqual(requestSizes);
    for (const c of calls) {
      const bytes = c.reduce(
        (sum, r) => sum + (r.Data?.byteLength ?? 0) + Buffer.byteLength(r.PartitionKey ?? ''),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(KINESIS_LIMITS.bytesPerRequest);
    }
  });

  it('rejects a record over 1 MiB with data and key, and sends one of exactly 1 MiB', async () => {
    answer();

    const report = await producer().p.sendRaw([raw('k0', MiB - 1), raw('k1', MiB - 2)]);

    expect(report.sent).toBe(1);
    expect(report.rejected).toEqual([
      expect.objectContaining({
        index: 0,
        reason: expect.stringMatching(/1048577 bytes .* at most 1048576/),
      }),
    ]);
    expect(requests().flat()).toHaveLength(1);
  });

  it('rejects invalid events with reasons naming fields and rules, and never sends them', async () => {
    answer();
    const { customerEmail: _, ...noEmail } = transaction();
    const input = [
      transaction({ eventId: 'evt_valid_001' }),
      transaction({ currency: 'dirham' }),
      noEmail as Transaction,
      transaction({ amountMinor: 90_000_000 }),
      transaction({ currency: 'JPY' }),
      transaction({ eventTime: new Date(BASE_TIME + 2 * 3_600_000).toISOString() }),
      transaction({ eventId: 'evt_valid_002' }),
    ];

    const report = await producer().p.send(input);

    expect(report.sent).toBe(2);
    expect(requests().flat()).toEqual(['evt_valid_001', 'evt_valid_002']);
    expect(report.rejected.map((r) => [r.index, r.reason])).toEqual([
      [1, 'currency: must be an ISO 4217 code'],
      [2, expect.stringMatching(/^customerEmail: /)],
      [3, expect.stringMatching(/data quality rule "amount-limit" failed/)],
      [4, expect.stringMatching(/data quality rule "settled-currency" failed/)],
      [5, 'eventTime is more than 5 minutes in the future'],
    ]);
    expect(report.rejected.every((r) => !r.reason.includes('dirham'))).toBe(true);
  });

  it('retries only the records that failed, with the same bytes (same event id)', async () => {
    const failOnce = new Set([key(1), key(3)]);
    answer((r, call) => {
      if (call === 1 && failOnce.has(r.key))
        return r.key === key(1) ? 'ProvisionedThroughputExceededException' : 'InternalFailure';
      return undefined;
    });

    const report = await producer().p.send(events(5));

    expect(report).toEqual({ sent: 5, rejected: [], unsent: [] });
    expect(requests()).toEqual([
      [id(0), id(1), id(2), id(3), id(4)],
      [id(1), id(3)],
    ]);
    const [first, second] = mock.commandCalls(PutRecordsCommand).map((c) => c.args[0].input.Records ?? []);
    expect(second?.[0]?.Data).toEqual(first?.[1]?.Data);
  });

  it('holds back later records of a key until its failed record is acknowledged', async () => {
    // cus_hot at 10 and 550: the second lands in the next request unless it is held back.
    const input = events(600, (i) => (i === 10 || i === 550 ? 'cus_hot1' : key(i)));
    answer((r, call) =>
      r.data.includes(id(10)) && call <= 2 ? 'ProvisionedThroughputExceededException' : undefined,
    );

    const report = await producer().p.send(input);

    expect(report).toEqual({ sent: 600, rejected: [], unsent: [] });
    const calls = requests();
    const acked = calls.findIndex((r, n) => n >= 2 && r.includes(id(10)));
    expect(calls.slice(0, acked + 1).some((r) => r.includes(id(550)))).toBe(false);
    expect(calls[acked + 1]).toEqual([id(550)]);
  });

  it('may write a later record of a key before a retried one only when both were in the same request', async () => {
    // The price of batching, documented on the class: Kinesis writes the request's other records.
    const input = events(3, (i) => (i === 1 ? key(9) : 'cus_same'));
    answer((r, call) => (call === 1 && r.data.includes(id(0)) ? 'InternalFailure' : undefined));

    const report = await producer().p.send(input);

    expect(report.sent).toBe(3);
    expect(requests()).toEqual([[id(0), id(1), id(2)], [id(0)]]);
  });

  it('keeps the input order of every key under random failures with ordering strict', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const input = events(300, (i) => key(i % 7));
    const acks: string[] = [];
    mock.on(PutRecordsCommand).callsFake((req: PutRecordsCommandInput): PutRecordsCommandOutput => {
      const Records = (req.Records ?? []).map((r) => {
        if (random() < 0.3) return { ErrorCode: 'ProvisionedThroughputExceededException' };
        acks.push(
          String(
            (JSON.parse(Buffer.from(r.Data ?? []).toString()) as { event: { eventId: string } }).event
              .eventId,
          ),
        );
        return { SequenceNumber: '1', ShardId: 's0' };
      });
      return { FailedRecordCount: Records.filter((r) => r.ErrorCode).length, Records, $metadata };
    });

    const report = await producer({ ordering: 'strict', maxAttempts: 50 }).p.send(input);

    expect(report.sent).toBe(300);
    expect(requests().every((r) => new Set(r.map((e) => Number(e.slice(4)) % 7)).size === r.length)).toBe(
      true,
    );
    for (let k = 0; k < 7; k++) {
      const ofKey = acks.filter((e) => Number(e.slice(4)) % 7 === k);
      expect(ofKey).toEqual([...ofKey].sort());
    }
  });

  it('gives up after maxAttempts, reports the record unsent, and holds the rest of its key unsent', async () => {
    // cus_stuck at 0 and 501: the second would go in the second request; it waits, then is not sent.
    const input = events(502, (i) => (i === 0 || i === 501 ? 'cus_stuck' : key(i)));
    answer((r) => (r.data.includes(id(0)) ? 'ProvisionedThroughputExceededException' : undefined));

    const report = await producer({ maxAttempts: 3 }).p.send(input);

    expect(report.sent).toBe(500);
    expect(report.unsent).toEqual([
      expect.objectContaining({ index: 0, errorCode: 'ProvisionedThroughputExceededException' }),
      expect.objectContaining({ index: 501, errorCode: 'PrecedingRecordUnsent' }),
    ]);
    expect(requests().filter((r) => r.includes(id(0)))).toHaveLength(3);
    expect(requests().flat()).not.toContain(id(501));
  });

  it('waits with full jitter: a random share of a doubling, capped ceiling, and never without a failure', async () => {
    answer((r) => (r.key === key(0) ? 'InternalFailure' : undefined));

    const { p, delays } = producer({
      maxAttempts: 6,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: () => 0.999,
    });
    const report = await p.send(events(3));

    expect(report.unsent).toHaveLength(1);
    expect(delays).toEqual([99, 199, 399, 799, 999]);
  });

  it.each([
    [
      'a throttled request',
      () => new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata }),
    ],
    ['an internal failure', () => new InternalFailureException({ message: 'oops', $metadata })],
    ['a reset connection', () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
  ])('retries a whole request that failed with %s', async (_, error) => {
    mock
      .on(PutRecordsCommand)
      .rejectsOnce(error())
      .callsFake((input: PutRecordsCommandInput) => ({
        FailedRecordCount: 0,
        Records: (input.Records ?? []).map(() => ({ SequenceNumber: '1', ShardId: 's0' })),
        $metadata,
      }));

    const report = await producer().p.send(events(3));

    expect(report).toEqual({ sent: 3, rejected: [], unsent: [] });
    expect(requests()).toEqual([
      [id(0), id(1), id(2)],
      [id(0), id(1), id(2)],
    ]);
  });

  it('reports every record unsent when the whole request keeps failing', async () => {
    mock
      .on(PutRecordsCommand)
      .rejects(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

    const report = await producer({ maxAttempts: 4 }).p.send(events(2));

    expect(report.sent).toBe(0);
    expect(report.unsent.map((u) => [u.index, u.errorCode])).toEqual([
      [0, 'ECONNREFUSED'],
      [1, 'ECONNREFUSED'],
    ]);
    expect(requests()).toHaveLength(4);
  });

  it('sends the whole request again when the response does not match it', async () => {
    mock
      .on(PutRecordsCommand)
      .resolvesOnce({ FailedRecordCount: 0, Records: [{ SequenceNumber: '1', ShardId: 's0' }], $metadata })
      .resolves({
        FailedRecordCount: 0,
        Records: [{ SequenceNumber: '2' }, { SequenceNumber: '3' }],
        $metadata,
      });

    const report = await producer().p.send(events(2));

    expect(report.sent).toBe(2);
    expect(requests()).toEqual([
      [id(0), id(1)],
      [id(0), id(1)],
    ]);
  });

  it('throws ProducerRequestError for an error no retry fixes, with what was sent before it', async () => {
    mock
      .on(PutRecordsCommand)
      .callsFakeOnce((input: PutRecordsCommandInput) => ({
        FailedRecordCount: 0,
        Records: (input.Records ?? []).map(() => ({ SequenceNumber: '1' })),
        $metadata,
      }))
      .rejects(new ResourceNotFoundException({ message: 'Stream transactions not found', $metadata }));

    const error = await producer()
      .p.send(events(501))
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProducerRequestError);
    expect((error as ProducerRequestError).report.sent).toBe(500);
    expect((error as Error).message).toMatch(/ResourceNotFoundException: Stream transactions not found/);
  });

  it('sends raw records as given, malformed payloads included, without validation', async () => {
    answer();

    const report = await producer().p.sendRaw([
      { partitionKey: 'cus_raw1', data: new TextEncoder().encode('{"contract":"transaction","version":1,') },
      { partitionKey: 'cus_raw1', data: new TextEncoder().encode('not json') },
    ]);

    expect(report).toEqual({ sent: 2, rejected: [], unsent: [] });
    expect(requests()).toEqual([['{"contract":"transaction","version":1,', 'not json']]);
  });

  it('reports progress after every round, ending at the total', async () => {
    answer();
    const seen: number[] = [];

    await producer().p.send([...events(600), transaction({ currency: 'x' })], {
      onProgress: (p) => seen.push(p.sent + p.rejected + p.unsent),
    });

    expect(seen).toEqual([1, 501, 601]);
  });

  it('refuses contradictory or out-of-range props at construction', () => {
    expect(() => producer({ clientConfig: { region: 'me-central-1' } })).toThrow(ProducerConfigError);
    expect(() => producer({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => producer({ baseDelayMs: 10, maxDelayMs: 1 })).toThrow(/baseDelayMs/);
  });
});

describe('CSV and Parquet rows for the producer CLI', () => {
  it('reads RFC 4180 records with the line each starts on', () => {
    const text = '\ufeffa,b,c\r\n1,"x, y",3\r\n\r\n2,"multi\nline ""quoted""",4\n5,"open';

    const records = [...parseCsv(text)];

    expect(records).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', 'x, y', '3'] },
      { line: 4, fields: ['2', 'multi\nline "quoted"', '4'] },
      { line: 6, fields: ['5', 'open'], error: 'a quoted field is never closed' },
    ]);
  });

  it('types CSV cells by the contract, leaving what does not convert for the contract to reject', () => {
    const header = ['amountMinor', 'cardPresent', 'eventTime', 'customerEmail', 'currency'];

    const event = eventFromCsv(contract, header, ['1250', 'TRUE', '2026-11-25T10:00:00Z', '', '12']);
    const odd = eventFromCsv(contract, header, ['12.5', 'yes', 'x', 'a@b.ae', 'AED']);

    expect(event).toEqual({
      amountMinor: 1250,
      cardPresent: true,
      eventTime: '2026-11-25T10:00:00Z',
      currency: '12',
    });
    expect(odd).toMatchObject({ amountMinor: 12.5, cardPresent: 'yes', eventTime: 'x' });
    expect(eventFromCsv(contract, ['amountMinor'], ['12345678901234567890'])).toEqual({
      amountMinor: '12345678901234567890',
    });
  });

  it('turns Parquet INT64 and timestamps into numbers and ISO strings, and nulls into absent fields', () => {
    const event = eventFromParquet({
      amountMinor: 1250n,
      eventTime: new Date(BASE_TIME),
      mcc: null,
      currency: 'AED',
    });

    expect(event).toEqual({ amountMinor: 1250, eventTime: '2026-11-25T10:00:00.000Z', currency: 'AED' });
  });
});
