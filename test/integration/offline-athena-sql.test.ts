/**
 * The Athena rendering of a training set, executed in DuckDB over the same Parquet files as Glue
 * tables would see them (Hive `dt` partitions, a labels table), against DuckDB's ASOF rendering and
 * an independent JavaScript join, on random histories with late arrivals, clock skew and
 * duplicated objects.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toParquet } from '../../lambdas/adapters/parquet.js';
import { cellsOf } from '../../lambdas/core/ports.js';
import { DuckDbSession, readParquetSql } from '../../offline/duckdb.js';
import { jsPointInTimeJoin } from '../../offline/training/js-pit-join.js';
import { DUCKDB_TYPES, loadLabelFile, prepareLabels } from '../../offline/training/local-sources.js';
import { runLocalQuery } from '../../offline/training/run.js';
import { readRanges, resolveTrainingSet, type TrainingSetSpec } from '../../offline/training/spec.js';
import { ident } from '../../offline/training/sql-text.js';
import { athenaSources, trainingSetSql } from '../../offline/training/training-set-sql.js';
import { customer } from '../../schemas/customer.features.js';
import { eventColumns, type OfflineColumn, offlineColumns } from '../../schemas/index.js';
import { transaction as transactionContract } from '../../schemas/transaction.contract.js';
import { labelsCsv } from '../support/offline-fixtures.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-06-01T00:00:00Z');

type Event = {
  customer_id: string;
  event_id: string;
  event_time: number;
  ingestion_time: number;
  contract_version: number;
  last_amount_minor: number;
  amount_minor: number;
  last_channel: string;
  channel: string;
};

const arbitraryEvent = fc.record({
  customer: fc.integer({ min: 0, max: 11 }),
  t: fc.integer({ min: 0, max: 40 * DAY }),
  // Mostly seconds late, some hours late (backfills, retries), some ahead (clock skew, at most 5 min).
  delay: fc.oneof(
    fc.integer({ min: 0, max: 5_000 }),
    fc.integer({ min: 0, max: 3 * HOUR }),
    fc.integer({ min: -5 * MIN, max: 0 }),
  ),
  amount: fc.integer({ min: 0, max: 100_000 }),
  channel: fc.constantFrom('pos', 'ecommerce', 'atm', 'wallet'),
  version: fc.constantFrom(1, 2),
  copies: fc.constantFrom(1, 1, 1, 2),
});

describe('Athena SQL executed in DuckDB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-athena-'));
  let session: DuckDbSession;
  let spec: TrainingSetSpec;
  let events: Event[];
  const labelTimes: number[] = [];
  const labelEntities: string[] = [];
  let local: Record<string, unknown>[];
  let athena: Record<string, unknown>[];

  const write = (
    key: string,
    columns: readonly OfflineColumn[],
    rows: readonly Record<string, unknown>[],
  ) => {
    const path = join(dir, key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, toParquet(columns, cellsOf(columns, rows)));
    return path;
  };

  beforeAll(async () => {
    const sample = fc.sample(fc.array(arbitraryEvent, { minLength: 400, maxLength: 400 }), {
      seed: 7,
      numRuns: 1,
    })[0];
    events = (sample ?? []).map((e, i) => ({
      customer_id: `cus_${String(e.customer).padStart(4, '0')}`,
      event_id: `evt_${String(i).padStart(6, '0')}`,
      event_time: T0 + e.t,
      ingestion_time: T0 + e.t + e.delay,
      contract_version: e.version,
      last_amount_minor: e.amount,
      amount_minor: e.amount,
      last_channel: e.channel,
      channel: e.channel,
    }));
    // Objects of 20 rows; the events drawn with two copies appear again in one more object, as a
    // batch redelivered with other boundaries leaves them.
    const history: string[] = [];
    const raw: string[] = [];
    const copies = events.filter((_, i) => sample?.[i]?.copies === 2);
    const objects = [...events, ...copies];
    for (let i = 0; i < objects.length; i += 20) {
      const chunk = objects.slice(i, i + 20);
      const byDay = new Map<string, Event[]>();
      for (const e of chunk) {
        const dt = new Date(e.event_time).toISOString().slice(0, 10);
        byDay.set(dt, [...(byDay.get(dt) ?? []), e]);
      }
      for (const [dt, rows] of byDay) {
        history.push(
          write(`features/group=customer/dt=${dt}/s-${i}.parquet`, offlineColumns(customer), rows),
        );
        raw.push(
          write(
            `events/contract=transaction/dt=${dt}/s-${i}.parquet`,
            eventColumns(transactionContract),
            rows,
          ),
        );
      }
    }
    expect(copies.length).toBeGreaterThan(50);
    expect(events.filter((e) => e.ingestion_time - e.event_time > HOUR).length).toBeGreaterThan(50);
    expect(events.filter((e) => e.ingestion_time < e.event_time).length).toBeGreaterThan(50);
    const labels = fc.sample(
      fc.record({ customer: fc.integer({ min: 0, max: 13 }), t: fc.integer({ min: 0, max: 45 * DAY }) }),
      { seed: 11, numRuns: 300 },
    );
    const rows = labels.map((l, i) => {
      const entity = `cus_${String(l.customer).padStart(4, '0')}`;
      labelTimes.push(T0 + l.t);
      labelEntities.push(entity);
      return { label_id: i, customer_id: entity, label_time: new Date(T0 + l.t).toISOString() };
    });
    const labelsPath = join(dir, 'labels.csv');
    writeFileSync(labelsPath, labelsCsv(rows));

    session = await DuckDbSession.open({ threads: 2 });
    spec = resolveTrainingSet(
      {
        features: [
          'customer:last_amount_minor',
          'customer:last_channel',
          'customer:txn_count_1h',
          'customer:amount_sum_24h',
          'customer:channel_last_1h',
        ],
        windows: 'exact',
      },
      await loadLabelFile(session, labelsPath),
    );
    const span = await prepareLabels(session, spec.timeColumn);
    if (!('from' in span)) throw new Error('no labels');

    // Local: DuckDB's ASOF rendering over the files.
    const out = join(dir, 'local.parquet');
    await runLocalQuery(
      session,
      spec,
      { history: new Map([[customer, history]]), events: new Map([['transaction', raw]]) },
      out,
    );
    local = await session.rows(`SELECT * FROM read_parquet('${out}') ORDER BY label_id`);

    // Athena: the Glue tables as views with their `dt` partition column, the labels as a table.
    await session.run('CREATE SCHEMA fp_test');
    const view = async (name: string, files: string[], columns: readonly OfflineColumn[]) => {
      // Glue's `timestamp` is zoneless (UTC by convention), as Athena reads it.
      const type = (c: OfflineColumn) => (c.type === 'timestamp' ? 'TIMESTAMP' : DUCKDB_TYPES[c.type]);
      const cols = columns.map((c) => `CAST(${ident(c.name)} AS ${type(c)}) AS ${ident(c.name)}`);
      const source = readParquetSql(files, { hive: true });
      await session.run(`CREATE VIEW fp_test.${name} AS SELECT ${cols.join(', ')}, dt FROM ${source}`);
    };
    await view('customer', history, offlineColumns(customer));
    await view('events_transaction', raw, eventColumns(transactionContract));
    await session.run(`CREATE TABLE fp_test.fraud_labels AS SELECT * FROM read_csv('${labelsPath}')`);
    const sql = trainingSetSql(
      spec,
      'athena',
      athenaSources(spec, {
        database: 'fp_test',
        labelsTable: 'fraud_labels',
        ranges: readRanges(spec, span),
      }),
    );
    athena = await session.rows(`SELECT * FROM (${sql}) ORDER BY label_id`);
  }, 60_000);
  afterAll(() => session?.close());

  it('renders no ASOF JOIN for Athena and prunes the scanned dt partitions', () => {
    const sql = trainingSetSql(
      spec,
      'athena',
      athenaSources(spec, {
        database: 'fp_test',
        labelsTable: 'l',
        ranges: readRanges(spec, { from: T0, to: T0 + DAY }),
      }),
    );
    expect(sql).not.toMatch(/ASOF/i);
    expect(sql).toContain(`FROM "fp_test"."customer" WHERE dt BETWEEN '2026-05-02' AND '2026-06-02'`);
    expect(sql).toContain(
      `FROM "fp_test"."events_transaction" WHERE dt BETWEEN '2026-05-30' AND '2026-06-02'`,
    );
  });

  it('gives the same rows as the DuckDB ASOF rendering', () => {
    expect(athena.length).toBe(300);
    expect(athena).toEqual(local);
    expect(local.filter((r) => r.customer__last_amount_minor !== null).length).toBeGreaterThan(100);
  });

  it('gives the latest values the JavaScript join gives', () => {
    const js = jsPointInTimeJoin(
      events.map((e) => ({
        entity: e.customer_id,
        eventTime: e.event_time,
        eventId: e.event_id,
        ingestionTime: e.ingestion_time,
        e,
      })),
      labelTimes.map((time, i) => ({ entity: labelEntities[i] as string, time })),
      customer.ttlMs,
    );
    expect(local.map((r) => [r.customer__last_amount_minor, r.customer__last_channel])).toEqual(
      js.map((row) => (row ? [BigInt(row.e.last_amount_minor), row.e.last_channel] : [null, null])),
    );
  });

  it('counts and sums the windows the way a plain scan of the events does', () => {
    const expected = labelTimes.map((t, i) => {
      const entity = labelEntities[i];
      const latest = jsPointInTimeJoin(
        events.map((e) => ({
          entity: e.customer_id,
          eventTime: e.event_time,
          eventId: e.event_id,
          ingestionTime: e.ingestion_time,
        })),
        [{ entity: entity as string, time: t }],
        customer.ttlMs,
      )[0];
      if (!latest) return [null, null];
      const visible = events.filter(
        (e) => e.customer_id === entity && e.event_time <= t && e.ingestion_time <= t,
      );
      const count = visible.filter((e) => e.event_time > t - HOUR).length;
      const sum = visible.filter((e) => e.event_time > t - DAY).reduce((s, e) => s + e.amount_minor, 0);
      return [BigInt(count), BigInt(sum)];
    });
    expect(local.map((r) => [r.customer__txn_count_1h, r.customer__amount_sum_24h])).toEqual(expected);
  });
});
