/**
 * `npm run produce` end to end on the stand-ins: JSON Lines, CSV and Parquet files with valid and
 * invalid rows -> the CLI's main -> Kinesis -> processor -> lookup API; invalid rows in the rejects
 * file with their line numbers and reasons.
 */

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { main } from '../../bin/produce.js';
import { executeApiSigner, signedFetch } from '../../clients/sigv4.js';
import type { LocalPlatform } from '../../local/platform.js';
import { type TransactionFields, transaction } from '../support/records.js';
import { uniquePrefix } from '../support/resources.js';
import { startTestPlatform } from '../support/test-platform.js';

interface RejectLine {
  line: number;
  reasons: string[];
  row: Record<string, unknown>;
}

describe('produce CLI on the stand-ins', () => {
  const standIns = inject('standIns');
  const dir = mkdtempSync(join(tmpdir(), 'fp-produce-'));
  const run = uniquePrefix('p').replace(/[^a-z0-9]/g, '');
  let platform: LocalPlatform;
  let stdout: string[];

  beforeAll(async () => {
    platform = await startTestPlatform(standIns, 'prod');
  });
  afterAll(async () => {
    await platform?.stop();
  });
  beforeEach(() => {
    stdout = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void stdout.push(String(line)));
    vi.spyOn(console, 'error').mockImplementation(() => {});
  });
  afterEach(() => vi.restoreAllMocks());

  /** A fresh customer per row, so each valid row is that customer's latest event. */
  const row = (name: string, overrides: Partial<TransactionFields> = {}): TransactionFields =>
    transaction({
      eventId: `evt_${run}_${name}`,
      customerId: `cus_${run}${name}`,
      eventTime: new Date(Date.now() - 60_000).toISOString(),
      ...overrides,
    });
  const without = (t: TransactionFields, field: keyof TransactionFields) => {
    const { [field]: _, ...rest } = t;
    return rest;
  };

  const produce = async (file: string) => {
    const rejects = `${file}.rejects.jsonl`;
    const code = await main(['--file', file, '--endpoints', platform.endpointsFile, '--rejects', rejects]);
    const lines = readFileSync(rejects, 'utf8').trim().split('\n').filter(Boolean);
    return {
      code,
      rejects: lines.map((l) => JSON.parse(l) as RejectLine),
      summary: JSON.parse(stdout.at(-1) ?? '{}') as Record<string, unknown>,
    };
  };

  /** The customer's features once the processor has applied its event (or the last answer). */
  const lookupEventId = async (customerId: string): Promise<string | undefined> => {
    await platform.eventSourceMapping.drain(30_000);
    for (let i = 0; i < 50; i++) {
      const res = await signedFetch(
        executeApiSigner(platform.endpoints.region, platform.endpoints.api.roles['consumer-fraud-scoring']),
        `${platform.endpoints.api.url}/v1/features/customer/${customerId}`,
      );
      if (res.status === 200) return ((await res.json()) as { eventId: string }).eventId;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  };

  const expectInvalidRows = (rejects: RejectLine[], lines: [number, number, number]) => {
    expect(rejects.map((r) => r.line)).toEqual(lines);
    expect(rejects[0]?.reasons).toEqual(['currency: must be an ISO 4217 code']);
    expect(rejects[1]?.reasons.join()).toMatch(/^(merchantId|customerEmail): Invalid input/);
    expect(rejects[2]?.reasons).toEqual([
      'data quality rule "amount-limit" failed: amountMinor is at most 50,000,000 (500,000.00 in major units)',
    ]);
  };

  it('sends the valid rows of a JSON Lines file and lists the invalid ones with line numbers', async () => {
    const a = row('ja');
    const b = row('jb', { currency: 'USD' });
    const file = join(dir, 'events.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify(a),
        JSON.stringify(row('jbad1', { currency: 'dirham' })),
        '',
        JSON.stringify(b),
        JSON.stringify(without(row('jbad2'), 'merchantId')),
        JSON.stringify(row('jbad3', { amountMinor: 90_000_000 })),
      ].join('\n'),
    );

    const { code, rejects, summary } = await produce(file);

    expect(code).toBe(0);
    expect(summary).toMatchObject({ read: 5, sent: 2, rejected: 3, unsent: 0 });
    expectInvalidRows(rejects, [2, 5, 6]);
    expect(rejects[0]?.row).toMatchObject({ eventId: `evt_${run}_jbad1`, currency: 'dirham' });
    expect(await lookupEventId(a.customerId)).toBe(a.eventId);
    expect(await lookupEventId(b.customerId)).toBe(b.eventId);
    const invalid = await signedFetch(
      executeApiSigner(platform.endpoints.region, platform.endpoints.api.roles['consumer-fraud-scoring']),
      `${platform.endpoints.api.url}/v1/features/customer/cus_${run}jbad3`,
    );
    expect(invalid.status).toBe(404);
  });

  it('types the cells of a CSV file by the contract and rejects the invalid rows', async () => {
    const c = row('ca', { channel: 'ecommerce' });
    const d = row('cb', { amountMinor: 4200 });
    const columns = Object.keys(c) as (keyof TransactionFields)[];
    const csvLine = (t: Partial<TransactionFields>) =>
      columns.map((k) => (t[k] === undefined ? '' : `"${String(t[k]).replace(/"/g, '""')}"`)).join(',');
    const file = join(dir, 'events.csv');
    writeFileSync(
      file,
      `${[
        columns.join(','),
        csvLine(c),
        csvLine(row('cbad1', { currency: 'dirham' })),
        csvLine(d),
        csvLine(without(row('cbad2'), 'customerEmail')),
        csvLine(row('cbad3', { amountMinor: 90_000_000 })),
      ].join('\r\n')}\r\n`,
    );

    const { code, rejects, summary } = await produce(file);

    expect(code).toBe(0);
    expect(summary).toMatchObject({ read: 5, sent: 2, rejected: 3, unsent: 0 });
    expectInvalidRows(rejects, [3, 5, 6]);
    expect(rejects[2]?.row).toMatchObject({ amountMinor: '90000000' });
    expect(await lookupEventId(c.customerId)).toBe(c.eventId);
    expect(await lookupEventId(d.customerId)).toBe(d.eventId);
  });

  it('reads a Parquet file and rejects the invalid rows by row number', async () => {
    const rows = [
      row('qa'),
      row('qbad1', { currency: 'dirham' }),
      without(row('qbad2'), 'customerEmail'),
      row('qbad3', { amountMinor: 90_000_000 }),
      row('qb', { channel: 'wallet' }),
    ] as Partial<TransactionFields>[];
    const text = (k: keyof TransactionFields) => ({
      name: k,
      data: rows.map((r) => (r[k] as string | undefined) ?? null),
      type: 'STRING' as const,
    });
    const file = join(dir, 'events.parquet');
    const buffer = parquetWriteBuffer({
      columnData: [
        text('eventId'),
        text('customerId'),
        text('merchantId'),
        { name: 'amountMinor', data: rows.map((r) => BigInt(r.amountMinor ?? 0)), type: 'INT64' },
        text('currency'),
        text('country'),
        text('channel'),
        text('customerEmail'),
        { name: 'eventTime', data: rows.map((r) => new Date(r.eventTime ?? 0)), type: 'TIMESTAMP' },
      ],
    });
    writeFileSync(file, new Uint8Array(buffer));

    const { code, rejects, summary } = await produce(file);

    expect(code).toBe(0);
    expect(summary).toMatchObject({ read: 5, sent: 2, rejected: 3, unsent: 0 });
    expectInvalidRows(rejects, [2, 3, 4]);
    expect(rejects[2]?.row).toMatchObject({ amountMinor: '90000000' });
    for (const r of [rows[0], rows[4]]) expect(await lookupEventId(r?.customerId ?? '')).toBe(r?.eventId);
  });

  it('exits 1 without a stack trace when the named stream does not exist', async () => {
    const file = join(dir, 'one.jsonl');
    writeFileSync(file, `${JSON.stringify(row('nostream'))}\n`);

    const code = await main([
      '--file',
      file,
      '--endpoints',
      platform.endpointsFile,
      '--stream',
      'no-such-stream',
    ]);

    expect(code).toBe(1);
    expect(console.error).toHaveBeenCalledWith(expect.stringMatching(/ResourceNotFoundException/));
  });

  it.each([
    ['no --file', []],
    ['an unknown format', ['--file', 'events.xlsx']],
    ['an unknown contract', ['--file', 'events.jsonl', '--contract', 'refund']],
    ['a missing endpoints file', ['--file', 'events.jsonl', '--endpoints', '/nonexistent/endpoints.json']],
  ])('exits 2 with a usage message for %s', async (_, argv) => {
    expect(await main(argv)).toBe(2);
    expect(console.error).toHaveBeenCalledWith(expect.stringMatching(/^produce: .*\nusage: /s));
  });
});
