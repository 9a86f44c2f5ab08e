import { describe, expect, it } from 'vitest';
import { TrainingSetRequestError } from '../../offline/errors.js';
import { jsPointInTimeJoin } from '../../offline/training/js-pit-join.js';
import { readRanges, resolveTrainingSet } from '../../offline/training/spec.js';
import { interval, tileFloor } from '../../offline/training/sql-text.js';
import { athenaSources, trainingSetSql } from '../../offline/training/training-set-sql.js';
import { customer } from '../../schemas/customer.features.js';
import { merchant } from '../../schemas/merchant.features.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LABELS = ['customer_id', 'merchant_id', 'label_time', 'is_fraud'];

describe('training-set spec', () => {
  it('resolves features of several groups, grouped by entity, in request order', () => {
    const spec = resolveTrainingSet(
      { features: ['merchant:txn_count_24h', 'customer:last_amount_minor', 'merchant:last_currency'] },
      LABELS,
    );
    expect(spec.groups.map((g) => [g.group.name, g.latest.length, g.windows.length])).toEqual([
      ['merchant', 1, 1],
      ['customer', 1, 0],
    ]);
    expect(spec.features.map((f) => f.column)).toEqual([
      'merchant__txn_count_24h',
      'customer__last_amount_minor',
      'merchant__last_currency',
    ]);
    expect(spec.windows).toBe('tile');
  });

  it.each([
    [['account:x'], LABELS, /unknown feature group "account"/],
    [['customer:nope'], LABELS, /customer has no feature "nope"/],
    [['customer_last_amount'], LABELS, /is not <group>:<feature>/],
    [['customer:email', 'customer:email'], LABELS, /requested twice/],
    [['merchant:txn_count_1h'], ['customer_id', 'label_time'], /no column "merchant_id"/],
    [['customer:txn_count_1h'], ['customer_id', 'ts'], /no time column "label_time"/],
    [['customer:email'], [...LABELS, 'customer__email'], /would collide/],
    [['customer:email'], [...LABELS, '__label_row'], /starts with "__"/],
    [[], LABELS, /no features requested/],
  ])('refuses %j over labels %j', (features, labels, message) => {
    expect(() => resolveTrainingSet({ features }, labels)).toThrow(TrainingSetRequestError);
    expect(() => resolveTrainingSet({ features }, labels)).toThrow(message);
  });

  it('takes the entity id from a differently named label column and another time column', () => {
    const spec = resolveTrainingSet(
      { features: ['customer:email'], timeColumn: 'ts', entityColumns: { customer_id: 'cust' } },
      ['cust', 'ts'],
    );
    expect(spec.groups[0]?.entityColumn).toBe('cust');
    expect(spec.timeColumn).toBe('ts');
  });

  it('reads the history back to the TTL and the raw events back to the longest window and its tile, and on past the last label by the clock skew', () => {
    const spec = resolveTrainingSet(
      { features: ['customer:last_amount_minor', 'customer:amount_sum_7d', 'merchant:txn_count_1h'] },
      LABELS,
    );
    const ranges = readRanges(spec, { from: 100 * DAY, to: 110 * DAY });
    // A row visible at the last label may be stamped up to 15 minutes after it (the next day's partition).
    const to = 110 * DAY + 15 * 60_000;
    expect(ranges.history.get(customer)).toEqual({ from: 70 * DAY, to });
    expect(ranges.history.get(merchant)).toEqual({ from: 93 * DAY, to });
    expect(ranges.events.get('transaction')).toEqual({ from: 92 * DAY, to });
  });
});

describe('SQL text shared by DuckDB and Athena', () => {
  it.each([
    [30 * DAY, `INTERVAL '30' DAY`],
    [25 * HOUR, `INTERVAL '25' HOUR`],
    [5 * 60_000, `INTERVAL '5' MINUTE`],
    [1_500, `INTERVAL '1.500' SECOND`],
  ])('writes %i ms as %s', (ms, sql) => {
    expect(interval(ms)).toBe(sql);
  });

  it('floors to epoch-aligned tiles with functions both engines have', () => {
    expect(tileFloor('x', 60_000)).toBe(`date_trunc('minute', x)`);
    expect(tileFloor('x', 300_000)).toBe(
      `(date_trunc('hour', x) + INTERVAL '1' MINUTE * (minute(x) - minute(x) % 5))`,
    );
    expect(tileFloor('x', 6 * HOUR)).toBe(
      `(date_trunc('day', x) + INTERVAL '1' HOUR * (hour(x) - hour(x) % 6))`,
    );
    expect(() => tileFloor('x', 7 * 60_000)).toThrow(/do not divide an hour or a day/);
  });

  it('renders the Athena query over the Glue tables with only the needed columns, no ASOF JOIN', () => {
    const spec = resolveTrainingSet(
      { features: ['customer:last_amount_minor', 'customer:txn_count_1h'] },
      LABELS,
    );
    const sql = trainingSetSql(
      spec,
      'athena',
      athenaSources(spec, { database: 'fp_prod', labelsTable: 'ml.labels' }),
    );
    expect(sql).not.toMatch(/ASOF/);
    expect(sql).toContain('FROM "ml"."labels" t');
    expect(sql).toContain(
      '(SELECT "customer_id", "event_time", "event_id", "ingestion_time", "last_amount_minor" FROM "fp_prod"."customer")',
    );
    expect(sql).toContain('FROM "fp_prod"."events_transaction"');
    expect(sql).toContain('AND h.ingestion_time <= l.__label_time');
    expect(sql).not.toContain('h.event_time <= l.__label_time');
    expect(sql).toContain(`h.event_time > l.__label_time - INTERVAL '30' DAY`);
  });

  it('renders the local query with an ASOF JOIN on when each row became visible: its arrival', () => {
    const spec = resolveTrainingSet({ features: ['customer:last_amount_minor'] }, LABELS);
    const sql = trainingSetSql(spec, 'duckdb', { labels: 'labels', history: () => 'h', events: () => 'e' });
    expect(sql).toContain('ASOF JOIN __tl_customer');
    expect(sql).toContain('ingestion_time AS __visible_at');
  });
});

describe('JavaScript point-in-time join', () => {
  const row = (entity: string, eventTime: number, ingestionTime: number, eventId = `e${eventTime}`) => ({
    entity,
    eventTime,
    ingestionTime,
    eventId,
  });

  it('takes the newest event visible at the label time, not one that arrived later', () => {
    const history = [row('a', 10, 11), row('a', 20, 100), row('a', 5, 50)];
    const got = jsPointInTimeJoin(
      history,
      [10, 11, 60, 99, 100].map((time) => ({ entity: 'a', time })),
      1_000,
    );
    expect(got.map((r) => r?.eventTime)).toEqual([undefined, 10, 10, 10, 20]);
  });

  it('serves an event stamped ahead of its arrival from its arrival, as the online store does', () => {
    // Arrived at 100 stamped 130 (a producer clock 30 ahead): the newest from 100 on.
    const history = [row('a', 90, 91), row('a', 130, 100)];
    const got = jsPointInTimeJoin(
      history,
      [95, 100, 120].map((time) => ({ entity: 'a', time })),
      1_000,
    );
    expect(got.map((r) => r?.eventTime)).toEqual([90, 130, 130]);
  });

  it('breaks equal event times by the larger event id and expires values past the TTL', () => {
    const history = [row('a', 10, 10, 'x2'), row('a', 10, 10, 'x1'), row('b', 10, 10)];
    const got = jsPointInTimeJoin(
      history,
      [
        { entity: 'a', time: 15 },
        { entity: 'b', time: 20 },
        { entity: 'c', time: 15 },
        { entity: null, time: 15 },
      ],
      10,
    );
    expect(got.map((r) => r?.eventId)).toEqual(['x2', undefined, undefined, undefined]);
  });
});
