/**
 * What the lookup benchmark prints: the JSON lines of issue 5 (`lookup` for 1 and 100 entities,
 * `lookup-load`), the summary the runner prints as the bench's own line (handler overhead, targets,
 * setup), and the readable table.
 */
import { cpus } from 'node:os';
import { fmt, type JsonValue, type TableRow } from './bench.js';
import { CUSTOMER_FEATURES, FEATURE_REFS, LOOKUP_DATA } from './lookup-data.js';
import { HANDLER_RUNS, type HandlerOverhead, type Percentiles } from './lookup-handler.js';
import type { LoadResult } from './lookup-http.js';
import type { Scenario } from './lookup-measure.js';
import { round } from './stats.js';

export const TARGET_RATIO_100 = 5;
export const TARGET_HANDLER_P99_MS = 2;

export interface LookupResults {
  readonly single: Scenario;
  readonly batch: Scenario;
  readonly load: LoadResult & {
    readonly connections: number;
    readonly presigned: number;
    readonly loadAverage: number;
  };
  readonly handler: HandlerOverhead & { readonly auditLines: number; readonly loadAverage: number };
  readonly sizes: Readonly<Record<'customer' | 'merchant', { readonly item: number; readonly tl: number }>>;
  readonly platformStartSeconds: number;
  readonly dataLoadSeconds: number;
}

const ms = (x: number) => round(x, 2);
const pct = (p: Percentiles) => `${fmt(p.p50, 2)} / ${fmt(p.p99, 2)}`;

export function lookupReport(r: LookupResults): {
  lines: Record<string, JsonValue>[];
  json: Record<string, JsonValue>;
  table: TableRow[];
} {
  const { single, batch, load, handler, sizes } = r;
  const lines: Record<string, JsonValue>[] = [];
  const ratio = (s: Scenario) => s.baseline.p99 / s.ours.p99;
  const line = (entities: number, s: Scenario, extra: Record<string, JsonValue>) => ({
    bench: 'lookup',
    entities,
    p50_ms: ms(s.ours.p50),
    p99_ms: ms(s.ours.p99),
    baseline_p99_ms: ms(s.baseline.p99),
    ratio: round(ratio(s), 2),
    baseline_p50_ms: ms(s.baseline.p50),
    ratio_p50: round(s.baseline.p50 / s.ours.p50, 2),
    max_ms: ms(s.ours.max),
    store_p50_ms: ms(s.store.p50),
    store_p99_ms: ms(s.store.p99),
    baseline_max_ms: ms(s.baseline.max),
    requests: s.ours.n,
    baseline_requests: s.baseline.n,
    store_calls: s.store.n,
    failed_requests: s.failures,
    feature_status: s.statuses,
    load_average_1m: round(s.loadAverage, 2),
    ...extra,
  });
  lines.push(
    line(1, single, {
      request: `GET /v1/features/customer/{id}?features=<${CUSTOMER_FEATURES.length} customer features>`,
      baseline: '1 GetItem, whole item',
    }),
  );
  const meets100 = ratio(batch) >= TARGET_RATIO_100;
  lines.push(
    line(100, batch, {
      target_ratio: TARGET_RATIO_100,
      meets_target: meets100,
      request: `POST /v1/features:get, 100 entities x ${FEATURE_REFS.length} features of customer + merchant (200 items)`,
      baseline: '200 sequential GetItems (100 entities x 2 groups), whole items',
    }),
  );
  lines.push({
    bench: 'lookup-load',
    rps: Math.round(load.requests / load.seconds),
    requests: load.requests,
    errors: load.errors,
    p99_ms: load.p99Ms,
    p50_ms: load.p50Ms,
    max_ms: load.maxMs,
    error_breakdown: load.breakdown,
    seconds: round(load.seconds, 1),
    connections: load.connections,
    request: `GET /v1/features/customer/{id}, ${load.presigned} distinct pre-signed requests, autocannon in a worker thread`,
    latency_resolution: '1 ms (autocannon histogram)',
    load_average_1m: round(load.loadAverage, 2),
  });

  const handlerMeets = {
    get: handler.get.total.p99 < TARGET_HANDLER_P99_MS,
    post_100: handler.post100.total.p99 < TARGET_HANDLER_P99_MS,
  };
  const o = (p: Percentiles) => ({ p50_ms: round(p.p50, 3), p99_ms: round(p.p99, 3), n: p.n });
  const json: Record<string, JsonValue> = {
    handler_overhead: { get: o(handler.get.total), post_100: o(handler.post100.total) },
    handler_target_p99_ms: TARGET_HANDLER_P99_MS,
    handler_meets_target: handlerMeets,
    handler_with_copying_in_memory_store: {
      get: o(handler.copying.get.total),
      post_100: o(handler.copying.post100.total),
      post_100_without_load: o(handler.copying.post100.withoutLoad),
    },
    handler_audit_log: `${handler.logLevel}, ${handler.auditLines} lines for ${
      2 * (HANDLER_RUNS.get.warm + HANDLER_RUNS.get.measured) +
      HANDLER_RUNS.post.warm +
      HANDLER_RUNS.post.measured +
      HANDLER_RUNS.postCopying.warm +
      HANDLER_RUNS.postCopying.measured
    } calls`,
    handler_load_average_1m: round(handler.loadAverage, 2),
    ratio_1: round(ratio(single), 2),
    ratio_100: round(ratio(batch), 2),
    target_ratio_100: TARGET_RATIO_100,
    meets_target_ratio_100: meets100,
    load_rps: Math.round(load.requests / load.seconds),
    load_errors: load.errors,
    data: `${LOOKUP_DATA.customers} customers, ${LOOKUP_DATA.merchants} merchants (Zipf ${LOOKUP_DATA.merchantExponent}), ${LOOKUP_DATA.events} events over 24 h`,
    mean_item_bytes: sizes,
    platform_start_s: round(r.platformStartSeconds, 1),
    data_load_s: round(r.dataLoadSeconds, 1),
    machine: `${cpus().length} CPUs, Node ${process.version}`,
  };
  const table: TableRow[] = [
    {
      label: '1 entity: ours p50 / p99 ms',
      value: pct(single.ours),
      note: `GET, ${single.ours.n} calls; baseline ${pct(single.baseline)}; ratio ${fmt(ratio(single), 2)}; store alone ${pct(single.store)}`,
    },
    {
      label: '100 entities: ours p50 / p99 ms',
      value: pct(batch.ours),
      note: `POST, ${batch.ours.n} calls; baseline ${pct(batch.baseline)} (${batch.baseline.n} calls); store alone ${pct(batch.store)}`,
    },
    {
      label: '100 entities: ratio (baseline / ours p99)',
      value: fmt(ratio(batch), 2),
      note: `target ${TARGET_RATIO_100}: ${meets100 ? 'met' : 'NOT met'}`,
    },
    {
      label: 'load: requests/s',
      value: fmt(load.requests / load.seconds),
      note: `${fmt(load.requests)} requests in ${fmt(load.seconds, 1)} s, ${load.errors} errors, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms`,
    },
    {
      label: 'handler GET p50 / p99 ms',
      value: pct(handler.get.total),
      note: `target p99 < ${TARGET_HANDLER_P99_MS}: ${handlerMeets.get ? 'met' : 'NOT met'}`,
    },
    {
      label: 'handler POST(100) p50 / p99 ms',
      value: pct(handler.post100.total),
      note: `target p99 < ${TARGET_HANDLER_P99_MS}: ${handlerMeets.post_100 ? 'met' : 'NOT met'}; with the copying store ${pct(handler.copying.post100.total)}`,
    },
    {
      label: 'feature cells (100 entities)',
      value: Object.entries(batch.statuses)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', '),
      note: `failed requests: ${single.failures + batch.failures}`,
    },
    {
      label: 'mean item bytes customer / merchant',
      value: `${fmt(sizes.customer.item)} / ${fmt(sizes.merchant.item)}`,
      note: `of which tl (tiles, read by window features too): ${fmt(sizes.customer.tl)} / ${fmt(sizes.merchant.tl)}`,
    },
    {
      label: 'load average (1 min), by phase',
      value: [handler.loadAverage, single.loadAverage, batch.loadAverage, load.loadAverage]
        .map((x) => fmt(x, 2))
        .join(' / '),
      note: `handler / 1 entity / 100 entities / load, on ${cpus().length} CPUs; counts this bench's own Node, Java and autocannon threads too`,
    },
  ];
  return { lines, json, table };
}
