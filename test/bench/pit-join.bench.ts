/**
 * Point-in-time join: a training set of 100,000 label rows against a feature history of 1,000,000
 * rows, locally with DuckDB (the `npm run training-set` path from label file to output Parquet
 * file: label load, views over the offline Parquet files, the ASOF query, COPY TO Parquet; no S3).
 *
 * Baseline, measured in the same run on the same rows: a straightforward in-process JavaScript
 * join (offline/training/js-pit-join.ts: sort per entity by visibility, running newest event,
 * binary search per label), given the history already in memory as objects (it reads no file and
 * writes none, so it is favoured). Both apply the same rule (event and ingestion time <= label
 * time, TTL) and are checked to agree on every row before timing. `ratio` = DuckDB / baseline
 * seconds (below 1: DuckDB is faster).
 *
 * Data, generated in-process with a seeded PRNG: 50,000 customers over 30 days, ingestion delay of
 * a few seconds for most rows, up to an hour for 2% (late arrivals), up to 5 minutes ahead for 1%
 * (clock skew), 1% of rows repeated in a second object (redelivered batches); 10% of label rows
 * name a customer with no history. Files laid out as the processor lays them out (dt partitions).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { toParquet } from '../../lambdas/adapters/parquet.js';
import { cellsOf } from '../../lambdas/core/ports.js';
import { seededRandom } from '../../local/seeded-random.js';
import { DuckDbSession } from '../../offline/duckdb.js';
import { jsPointInTimeJoin } from '../../offline/training/js-pit-join.js';
import { loadLabelFile, prepareLabels } from '../../offline/training/local-sources.js';
import { runLocalQuery } from '../../offline/training/run.js';
import { resolveTrainingSet } from '../../offline/training/spec.js';
import { customer } from '../../schemas/customer.features.js';
import { type OfflineColumn, offlineColumns } from '../../schemas/index.js';
import { type Bench, fmt } from './bench.js';
import { collectGarbage, round, summary, timed } from './stats.js';

const LABEL_COLUMNS: readonly OfflineColumn[] = [
  { name: 'label_id', type: 'int64', description: '' },
  { name: 'customer_id', type: 'string', description: '' },
  { name: 'label_time', type: 'timestamp', description: '' },
  { name: 'is_fraud', type: 'boolean', description: '' },
];
const FEATURE_ROWS = 1_000_000;
const LABEL_ROWS = 100_000;
const CUSTOMERS = 50_000;
const DAYS = 30;
const ROWS_PER_OBJECT = 8_000;
const REPS = 5;
const TARGET_SECONDS = 2;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const DAY = 86_400_000;
const FEATURES = ['customer:last_amount_minor', 'customer:last_currency', 'customer:last_channel'];
const CURRENCIES = ['AED', 'USD', 'EUR', 'SAR'];
const CHANNELS = ['pos', 'ecommerce', 'atm', 'wallet'];

interface HistoryRow {
  customer_id: string;
  event_time: number;
  event_id: string;
  ingestion_time: number;
  contract_version: number;
  last_amount_minor: number;
  last_currency: string;
  last_channel: string;
}

function generate(dir: string) {
  const random = seededRandom(20261125);
  const history: HistoryRow[] = [];
  for (let i = 0; i < FEATURE_ROWS; i++) {
    const t = T0 + Math.floor(random() * DAYS * DAY);
    const r = random();
    const delay =
      r < 0.97
        ? 200 + Math.floor(random() * 5_000)
        : r < 0.99
          ? Math.floor(random() * 3_600_000)
          : -Math.floor(random() * 300_000);
    history.push({
      customer_id: `cus_${String(Math.floor(random() * CUSTOMERS)).padStart(6, '0')}`,
      event_time: t,
      event_id: `evt_${String(i).padStart(8, '0')}`,
      ingestion_time: t + delay,
      contract_version: random() < 0.2 ? 1 : 2,
      last_amount_minor: Math.floor(random() * 1_000_000),
      last_currency: CURRENCIES[Math.floor(random() * CURRENCIES.length)] as string,
      last_channel: CHANNELS[Math.floor(random() * CHANNELS.length)] as string,
    });
  }
  // As the processor writes them: by arrival, in batches, each batch split by UTC date of event time.
  const arrival = [...history].sort((a, b) => a.ingestion_time - b.ingestion_time);
  const copies = history.filter(() => random() < 0.01);
  const files: string[] = [];
  const columns = offlineColumns(customer);
  const batches = [...arrival, ...copies];
  for (let i = 0; i < batches.length; i += ROWS_PER_OBJECT) {
    const byDay = new Map<string, HistoryRow[]>();
    for (const row of batches.slice(i, i + ROWS_PER_OBJECT)) {
      const dt = new Date(row.event_time).toISOString().slice(0, 10);
      byDay.set(dt, [...(byDay.get(dt) ?? []), row]);
    }
    for (const [dt, rows] of byDay) {
      const path = join(dir, `features/group=customer/dt=${dt}/bench-${i}.parquet`);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, toParquet(columns, cellsOf(columns, rows as unknown as Record<string, unknown>[])));
      files.push(path);
    }
  }
  const labels = Array.from({ length: LABEL_ROWS }, (_, i) => ({
    label_id: i,
    customer_id: `cus_${String(Math.floor(random() * CUSTOMERS * 1.1)).padStart(6, '0')}`,
    label_time: T0 + DAY + Math.floor(random() * DAYS * DAY),
    is_fraud: random() < 0.02,
  }));
  const labelsPath = join(dir, 'labels.parquet');
  writeFileSync(labelsPath, toParquet(LABEL_COLUMNS, cellsOf(LABEL_COLUMNS, labels)));
  return { history, copies, files, labels, labelsPath };
}

async function duckdbJoin(labelsPath: string, files: readonly string[], outPath: string): Promise<void> {
  const session = await DuckDbSession.open({ threads: 2 });
  try {
    const spec = resolveTrainingSet({ features: FEATURES }, await loadLabelFile(session, labelsPath));
    await prepareLabels(session, spec.timeColumn);
    await runLocalQuery(session, spec, { history: new Map([[customer, files]]), events: new Map() }, outPath);
  } finally {
    session.close();
  }
}

function jsJoin(
  history: readonly HistoryRow[],
  labels: readonly { customer_id: string; label_time: number }[],
) {
  const got = jsPointInTimeJoin(
    history.map((h) => ({
      entity: h.customer_id,
      eventTime: h.event_time,
      eventId: h.event_id,
      ingestionTime: h.ingestion_time,
      h,
    })),
    labels.map((l) => ({ entity: l.customer_id, time: l.label_time })),
    customer.ttlMs,
  );
  return got.map((r) =>
    r ? [r.h.last_amount_minor, r.h.last_currency, r.h.last_channel] : [null, null, null],
  );
}

export const pitJoinBench: Bench = {
  name: 'pit-join',
  description:
    'training set: 100k labels x 1M feature-history rows, DuckDB ASOF vs a JS sort + binary search',
  async run(log) {
    const dir = mkdtempSync(join(tmpdir(), 'fp-pit-bench-'));
    try {
      log('generating 1,000,000 history rows and 100,000 labels ...');
      const data = generate(dir);
      const outPath = join(dir, 'train.parquet');

      // Both joins must give the same answer before either is timed.
      await duckdbJoin(data.labelsPath, data.files, outPath);
      const session = await DuckDbSession.open({ threads: 1 });
      const out = await session.rows(
        `SELECT customer__last_amount_minor AS a, customer__last_currency AS c, customer__last_channel AS ch FROM read_parquet('${outPath}') ORDER BY label_id`,
      );
      session.close();
      const reference = jsJoin([...data.history, ...data.copies], data.labels);
      const mismatches = out.filter((r, i) => {
        const [a, c, ch] = reference[i] as [number | null, string | null, string | null];
        return (r.a === null ? null : Number(r.a)) !== a || r.c !== c || r.ch !== ch;
      }).length;
      if (mismatches > 0) throw new Error(`DuckDB and the JavaScript join disagree on ${mismatches} rows`);
      const withValue = reference.filter((r) => r[0] !== null).length;

      const duck: number[] = [];
      const js: number[] = [];
      for (let i = 0; i < REPS; i++) {
        collectGarbage();
        duck.push((await timed(() => duckdbJoin(data.labelsPath, data.files, outPath))).timing.wallMs);
        collectGarbage();
        js.push((await timed(() => jsJoin([...data.history, ...data.copies], data.labels))).timing.wallMs);
        log(`rep ${i + 1}: duckdb ${fmt(duck[i] ?? 0)} ms, js ${fmt(js[i] ?? 0)} ms`);
      }
      const d = summary(duck);
      const b = summary(js);
      const seconds = d.median / 1000;
      const baseline = b.median / 1000;
      return {
        json: {
          feature_rows: FEATURE_ROWS,
          label_rows: LABEL_ROWS,
          seconds: round(seconds, 3),
          baseline_seconds: round(baseline, 3),
          ratio: round(seconds / baseline, 3),
          target_seconds: TARGET_SECONDS,
          within_target: seconds < TARGET_SECONDS,
          duplicate_rows: data.copies.length,
          objects: data.files.length,
          labels_with_value: withValue,
          best_seconds: round(d.min / 1000, 3),
          baseline_best_seconds: round(b.min / 1000, 3),
          threads: 2,
          reps: REPS,
          spread_pct: round(d.iqrPct, 1),
          // Other work on the machine shows up here; the figures above are only as good as this is low.
          load_average_1m: round(loadavg()[0] ?? 0, 2),
        },
        table: [
          { label: 'feature rows / label rows', value: `${fmt(FEATURE_ROWS)} / ${fmt(LABEL_ROWS)}` },
          {
            label: 'objects read (+ duplicate rows)',
            value: `${data.files.length} (+${fmt(data.copies.length)})`,
          },
          {
            label: 'DuckDB, file to file (median)',
            value: `${fmt(seconds, 3)} s`,
            note: `target < ${TARGET_SECONDS} s`,
          },
          {
            label: 'JS sort + binary search (median)',
            value: `${fmt(baseline, 3)} s`,
            note: 'history in memory',
          },
          { label: 'ratio (DuckDB / JS)', value: fmt(seconds / baseline, 3) },
          { label: 'best of each', value: `${fmt(d.min / 1000, 3)} s / ${fmt(b.min / 1000, 3)} s` },
          { label: 'labels with a value', value: fmt(withValue), note: 'identical in both' },
        ],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
