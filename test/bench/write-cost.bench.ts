/**
 * DynamoDB write cost per 1,000 events, on DynamoDB Local: `processBatch` with the real
 * `DynamoDbEntityStore` (one conditional PutItem per distinct entity per batch, and one UpdateItem per
 * id bucket a busy customer's settled ids move to, units summed from ReturnConsumedCapacity) against the per-event baseline in per-event-baseline.ts (Powertools-style
 * idempotency record + one UpdateItem per event per feature group), on the same records, with the
 * same warm-up, in the same run.
 *
 * Workload: batches of 1,000 records; customers 10,000 Zipf s=0.99 (YCSB's constant; s=1.2 as an
 * extra figure), merchants 500 Zipf s=0.99; 2% malformed, 2% producer retries, 10% contract v1; event
 * time at 1,000 records/s (one shard at its write limit, so a batch is one second).
 *
 * The run holds seconds of history. What grows with a longer one: the tiles of the busiest customers
 * (their distinct-merchant lists), and the ids a customer keeps in its item up to its write units;
 * past those, ids move once to the id bucket of their second (until 2026-11-26 every id stayed in
 * the item and was rewritten with it for the whole 70-minute horizon: a projected 20,000 WCU per
 * 1,000 events at steady state, 0.24x the baseline).
 */

import {
  type AttributeValue,
  BatchGetItemCommand,
  CreateTableCommand,
  type DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import {
  decodeIds,
  decodeTiles,
  encodeIds,
  ITEM_LAYOUTS,
  type ItemLayout,
  LATEST_ITEM_LAYOUT,
  packAttribute,
  unpackAttribute,
} from '../../lambdas/adapters/entity-item-codec.js';
import { InMemoryOfflineSink, InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import { isIdBucketGroup } from '../../lambdas/core/id-buckets.js';
import type { ProcessorDeps } from '../../lambdas/core/process-batch.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { ONLINE_TABLE, resourceNames } from '../../lib/platform-spec.js';
import { localDynamoDbClient, localKinesisClient, localS3Client } from '../../local/clients.js';
import { provision } from '../../local/provision.js';
import { type StandInEndpoints, startStandIns } from '../../local/stand-ins.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { uniquePrefix } from '../support/resources.js';
import { type Bench, fmt, type JsonValue } from './bench.js';
import { probeCapacity } from './capacity-probe.js';
import { itemBytes, WriteMeter, type WriteRecord } from './dynamodb-meter.js';
import { PerEventBaseline } from './per-event-baseline.js';
import { median, round, timed } from './stats.js';
import { expectedDistinct, TransactionStream, type Zipf } from './workload.js';

const BATCH = 1_000;
const EVENTS_PER_SECOND = 1_000;
/** Per scenario: batches before measuring, and batches measured (the figures are their medians). */
/**
 * Batches before the measured ones: 2 by default (seconds of history); WRITE_COST_WARM_BATCHES=60
 * measures after a minute (each warm batch takes about 5 s, mostly the baseline's).
 */
const WARM = warmBatches(process.env.WRITE_COST_WARM_BATCHES);
const SCENARIOS = [
  { exponent: 0.99, seed: 11, warm: WARM, measured: 4 },
  { exponent: 1.2, seed: 12, warm: WARM, measured: 3 },
] as const;

function warmBatches(value: string | undefined): number {
  if (value === undefined) return 2;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new Error(`WRITE_COST_WARM_BATCHES must be a whole number, got "${value}"`);
  return n;
}
/**
 * The item layout our side writes: the newest by default; WRITE_COST_LAYOUT=2 measures an older one
 * on the same records (what an environment still on it pays).
 */
const LAYOUT = itemLayout(process.env.WRITE_COST_LAYOUT);
function itemLayout(value: string | undefined): ItemLayout {
  if (value === undefined) return LATEST_ITEM_LAYOUT;
  const layout = ITEM_LAYOUTS.find((l) => String(l) === value.trim());
  if (layout === undefined)
    throw new Error(`WRITE_COST_LAYOUT must be one of ${ITEM_LAYOUTS.join(', ')}, got "${value}"`);
  return layout;
}
const TARGET_RATIO = 10;
/** DynamoDB on-demand: a write request unit costs five read request units. */
const READ_PRICE_DIVISOR = 5;
const MERCHANT_EXPONENT = 0.99;

const units = (ws: readonly WriteRecord[]) =>
  // A write whose condition failed is billed too (at least one unit); DynamoDB Local reports none for it.
  ws.reduce((a, w) => a + (w.units ?? (w.conditionFailed ? 1 : 0)), 0);
const isBucketKey = (pk: string): boolean => isIdBucketGroup(pk.slice(0, pk.indexOf('#')));
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

async function createTable(client: DynamoDBClient, name: string, key: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 0.2 }, { TableName: name });
}

interface BatchFigures {
  readonly ours: number;
  readonly baseline: number;
  readonly oursMs: number;
  readonly baselineMs: number;
  readonly customers: number;
  readonly merchants: number;
  readonly oursWrites: readonly WriteRecord[];
  readonly baselineWrites: readonly WriteRecord[];
  /** Keys our batch read (BatchGetItem; BatchGetItem retries of unprocessed keys count again). */
  readonly oursReads: readonly string[];
  /** Read units our batch consumed (BatchGetItem, ReturnConsumedCapacity). */
  readonly oursReadUnits: number;
  readonly baselineReadUnits: number;
  readonly applied: number;
}

interface Sampled {
  /** Mean bytes of one `recent` entry inside `dd`. */
  readonly recentEntryBytes: number;
  /** Median customer item bytes without its `recent` map. */
  readonly customerBaseBytes: number;
  readonly maxRecentEntries: number;
  readonly largestItemBytes: number;
  readonly baselineFeatureItemBytes: number;
  /** Share of customer items whose `tl` and `dd` are deflated (layout 3, past one write unit less 128 bytes). */
  readonly deflatedShare: number;
}

interface Scenario {
  readonly exponent: number;
  readonly batches: readonly BatchFigures[];
  readonly sampled: Sampled;
  readonly customers: Zipf;
  readonly merchants: Zipf;
  readonly historySeconds: number;
  readonly failures: readonly string[];
}

/** Sizes of our items and the baseline's feature items, read back after the run (reads are not billed here). */
async function sample(
  client: DynamoDBClient,
  ourTable: string,
  baselineTable: string,
  keys: readonly string[],
): Promise<Sampled> {
  const read = async (table: string) => {
    const items: Record<string, AttributeValue>[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      const out = await client.send(
        new BatchGetItemCommand({
          RequestItems: { [table]: { Keys: keys.slice(i, i + 100).map((pk) => ({ pk: { S: pk } })) } },
        }),
      );
      items.push(...(out.Responses?.[table] ?? []));
    }
    return items;
  };
  let recentBytes = 0;
  let recentEntries = 0;
  let maxRecent = 0;
  let largest = 0;
  const bases: number[] = [];
  let customers = 0;
  let deflated = 0;
  for (const item of await read(ourTable)) {
    const bytes = itemBytes(item);
    largest = Math.max(largest, bytes);
    if (!item.pk?.S?.startsWith('customer#')) continue;
    customers++;
    if (item.dd?.B) deflated++;
    // The ids' share of `dd`: its bytes (as stored) less those of the same without ids.
    const { maxEventTime } = decodeTiles(unpackAttribute(item.tl?.S ?? item.tl?.B));
    const ids = decodeIds(unpackAttribute(item.dd?.S ?? item.dd?.B), maxEventTime);
    const n = Object.keys(ids.recent).length;
    const withoutIds = encodeIds({ ...ids, maxEventTime, recent: {} }, LAYOUT);
    const rb = n
      ? (item.dd?.B?.length ?? Buffer.byteLength(item.dd?.S ?? '')) -
        (item.dd?.B ? packAttribute(withoutIds).length : Buffer.byteLength(withoutIds))
      : 0;
    recentBytes += rb;
    recentEntries += n;
    maxRecent = Math.max(maxRecent, n);
    bases.push(bytes - rb);
  }
  const baselineSizes = (await read(baselineTable)).map((item) => itemBytes(item));
  return {
    recentEntryBytes: recentEntries ? recentBytes / recentEntries : 0,
    customerBaseBytes: median(bases),
    maxRecentEntries: maxRecent,
    largestItemBytes: largest,
    baselineFeatureItemBytes: mean(baselineSizes),
    deflatedShare: customers ? deflated / customers : 0,
  };
}

async function runScenario(
  endpoints: StandInEndpoints,
  { exponent, seed, warm, measured }: (typeof SCENARIOS)[number],
  log: (m: string) => void,
): Promise<Scenario> {
  const names = resourceNames(uniquePrefix('bw'));
  const idempotencyTable = `${names.onlineTable}-idempotency`;
  const baselineTable = `${names.onlineTable}-baseline`;
  const setupClient = localDynamoDbClient(endpoints);
  const kinesis = localKinesisClient(endpoints);
  const s3 = localS3Client(endpoints);
  await provision({ kinesis, dynamodb: setupClient, s3 }, names, 1);
  await createTable(setupClient, idempotencyTable, 'id');
  await createTable(setupClient, baselineTable, ONLINE_TABLE.partitionKey.name);
  kinesis.destroy();
  s3.destroy();

  const oursClient = localDynamoDbClient(endpoints);
  const oursMeter = new WriteMeter();
  oursMeter.attach(oursClient);
  // The newest layout: what an environment writes once it is raised (lib/environments.ts).
  const store = new DynamoDbEntityStore({
    tableName: names.onlineTable,
    client: oursClient,
    writeLayout: LAYOUT,
  });
  const deps: ProcessorDeps = {
    contracts,
    groupsFedBy,
    entities: store,
    offline: new InMemoryOfflineSink(),
    sideOutput: new InMemorySideOutput(),
  };
  const baselineClient = localDynamoDbClient(endpoints);
  const baselineMeter = new WriteMeter();
  baselineMeter.attach(baselineClient);
  const baseline = new PerEventBaseline({
    client: baselineClient,
    idempotencyTable,
    featureTable: baselineTable,
    contracts,
    groupsFedBy,
  });

  const stream = new TransactionStream({
    customers: 10_000,
    customerExponent: exponent,
    merchants: 500,
    merchantExponent: MERCHANT_EXPONENT,
    eventsPerSecond: EVENTS_PER_SECOND,
    malformedShare: 0.02,
    duplicateShare: 0.02,
    v1Share: 0.1,
    seed,
  });
  const batches: BatchFigures[] = [];
  const failures: string[] = [];
  let lastKeys: string[] = [];
  for (let i = 0; i < warm + measured; i++) {
    const records = stream.next(BATCH);
    const o0 = oursMeter.writes.length;
    const r0 = oursMeter.reads.length;
    const ru0 = oursMeter.readUnits;
    const bru0 = baselineMeter.readUnits;
    const b0 = baselineMeter.writes.length;
    const runOurs = () => timed(() => processBatch(records, deps));
    const runBaseline = () => timed(() => baseline.process(records));
    // Alternate which goes first, so neither always meets a warmer DynamoDB Local.
    const [ours, base] =
      i % 2 === 0
        ? [await runOurs(), await runBaseline()]
        : await (async () => {
            const b = await runBaseline();
            return [await runOurs(), b] as const;
          })();
    if (ours.value.failed.length > 0) failures.push(ours.value.errors[0]?.message.slice(0, 200) ?? 'failed');
    const oursWrites = oursMeter.since(o0);
    const baselineWrites = baselineMeter.since(b0);
    lastKeys = [...new Set(oursWrites.map((w) => w.key))]; // a big bucket add is several writes of one key
    if (i < warm) continue;
    batches.push({
      ours: units(oursWrites),
      baseline: units(baselineWrites),
      oursMs: ours.timing.wallMs,
      baselineMs: base.timing.wallMs,
      customers: oursWrites.filter((w) => w.key.startsWith('customer#')).length,
      merchants: oursWrites.filter((w) => w.key.startsWith('merchant#')).length,
      oursWrites,
      baselineWrites,
      oursReads: oursMeter.reads.slice(r0),
      oursReadUnits: oursMeter.readUnits - ru0,
      baselineReadUnits: baselineMeter.readUnits - bru0,
      applied: ours.value.counts.applied,
    });
    log(
      `s=${exponent} batch ${i - warm + 1}/${measured}: ours ${units(oursWrites)} WCU, baseline ${units(baselineWrites)} WCU`,
    );
  }
  const sampled = await sample(setupClient, names.onlineTable, baselineTable, lastKeys);
  for (const c of [setupClient, oursClient, baselineClient]) c.destroy();
  return {
    exponent,
    batches,
    sampled,
    customers: stream.customers,
    merchants: stream.merchants,
    historySeconds: stream.elapsedSeconds,
    failures,
  };
}

/**
 * The most the one-write-per-entity design can save on this workload if every item fit in 1 KB:
 * the baseline's measured units per record x records / expected distinct entities, by batch size.
 */
function boundByBatchSize(s: Scenario, baselinePerRecord: number, appliedShare: number) {
  const out: Record<string, number> = {};
  for (const records of [1_000, 2_000, 5_000, 10_000]) {
    const events = records * appliedShare;
    const distinct = expectedDistinct(s.customers, events) + expectedDistinct(s.merchants, events);
    out[String(records)] = round((baselinePerRecord * records) / distinct, 2);
  }
  return out;
}

function summarise(s: Scenario) {
  const ours = median(s.batches.map((b) => b.ours));
  const baseline = median(s.batches.map((b) => b.baseline));
  const customers = median(s.batches.map((b) => b.customers));
  const merchants = median(s.batches.map((b) => b.merchants));
  const oursPuts = s.batches.flatMap((b) => b.oursWrites);
  const customerPuts = oursPuts.filter((w) => w.key.startsWith('customer#'));
  const merchantPuts = oursPuts.filter((w) => w.key.startsWith('merchant#'));
  const bucketPuts = oursPuts.filter((w) => isBucketKey(w.key));
  const baselineWrites = s.batches.flatMap((b) => b.baselineWrites);
  const featureUpdates = baselineWrites.filter((w) => w.key.includes('#') && !w.key.startsWith('fp-bench'));
  const idempotency = baselineWrites.filter((w) => w.key.startsWith('fp-bench'));
  const applied = median(s.batches.map((b) => b.applied));
  const readUnits = median(s.batches.map((b) => b.oursReadUnits));
  const baselineReadUnits = median(s.batches.map((b) => b.baselineReadUnits));
  const groups = 2;
  const featureWcu = mean(featureUpdates.map((w) => w.units ?? 0));
  return {
    exponent: s.exponent,
    ours,
    baseline,
    ratio: baseline / ours,
    ratios: s.batches.map((b) => round(b.baseline / b.ours, 2)),
    oursEventsPerS: BATCH / (median(s.batches.map((b) => b.oursMs)) / 1000),
    baselineEventsPerS: BATCH / (median(s.batches.map((b) => b.baselineMs)) / 1000),
    customers,
    merchants,
    applied,
    oursItemBytes: {
      customer: Math.round(mean(customerPuts.map((w) => w.itemBytes ?? 0))),
      merchant: Math.round(mean(merchantPuts.map((w) => w.itemBytes ?? 0))),
    },
    oursWcuPerWrite: {
      customer: round(mean(customerPuts.map((w) => w.units ?? 0)), 2),
      merchant: round(mean(merchantPuts.map((w) => w.units ?? 0)), 2),
      largest: Math.max(...oursPuts.map((w) => w.units ?? 0)),
    },
    baselineItemBytes: {
      feature: Math.round(s.sampled.baselineFeatureItemBytes),
      idempotency: Math.round(mean(idempotency.filter((w) => w.itemBytes).map((w) => w.itemBytes ?? 0))),
    },
    baselineWcuPerWrite: {
      feature_update: round(featureWcu, 2),
      idempotency: round(mean(idempotency.map((w) => w.units ?? (w.conditionFailed ? 1 : 0))), 2),
    },
    // If each of our writes were one unit (items <= 1 KB): the most the design can give on this workload.
    boundIf1KbItems: baseline / (customers + merchants),
    // The issue's formula: events x (2 + groups x item WCU) / (distinct x item WCU), with 1-unit items.
    formulaBound: (applied * (2 + groups * 1)) / (customers + merchants),
    // Strongly consistent reads, as DynamoDB Local reports them (1,053 keys cost 483 units cold:
    // most of those keys are missing items); the baseline reads nothing. Priced as on-demand bills
    // them: a read unit at a fifth of a write unit.
    readUnits,
    baselineReadUnits,
    pricedRatio:
      (baseline + baselineReadUnits / READ_PRICE_DIVISOR) / (ours + readUnits / READ_PRICE_DIVISOR),
    keysReadPerBatch: {
      entities: median(s.batches.map((b) => b.oursReads.filter((k) => !isBucketKey(k)).length)),
      id_buckets: median(s.batches.map((b) => b.oursReads.filter(isBucketKey).length)),
    },
    idBuckets: {
      writes_per_batch: round(bucketPuts.length / s.batches.length, 1),
      wcu_per_batch: round(units(bucketPuts) / s.batches.length, 1),
      largest_wcu: Math.max(0, ...bucketPuts.map((w) => w.units ?? 0)),
    },
    boundByBatch: boundByBatchSize(s, baseline / BATCH, applied / BATCH),
    recent: {
      entry_bytes: round(s.sampled.recentEntryBytes, 1),
      max_entries_per_customer: s.sampled.maxRecentEntries,
      customer_item_bytes_without_recent: Math.round(s.sampled.customerBaseBytes),
      largest_item_bytes: s.sampled.largestItemBytes,
      deflated_customer_items_share: round(s.sampled.deflatedShare, 3),
    },
    failures: s.failures,
  };
}

export const writeCostBench: Bench = {
  name: 'write-cost',
  description: 'DynamoDB write units per 1,000 events on DynamoDB Local, ours vs per-event idempotency',
  async run(log) {
    log('starting the stand-ins (DynamoDB Local)');
    const standIns = await startStandIns();
    try {
      const probeClient = localDynamoDbClient(standIns.endpoints);
      const probeTable = `${uniquePrefix('probe')}`;
      await createTable(probeClient, probeTable, 'pk');
      const probe = await probeCapacity(probeClient, probeTable);
      probeClient.destroy();
      log(`capacity probe: ${JSON.stringify(probe.put)}`);

      const [main, steep] = [
        summarise(await runScenario(standIns.endpoints, SCENARIOS[0], log)),
        summarise(await runScenario(standIns.endpoints, SCENARIOS[1], log)),
      ];
      const json: Record<string, JsonValue> = {
        write_units_per_1000_events: main.ours,
        baseline_write_units_per_1000_events: main.baseline,
        ratio: round(main.ratio, 2),
        target_ratio: TARGET_RATIO,
        meets_target: main.ratio >= TARGET_RATIO,
        ratio_per_batch: main.ratios,
        baseline:
          'per event: Powertools-style idempotency PutItem INPROGRESS + UpdateItem COMPLETED, and one UpdateItem (ADD/SET aggregates) per feature group',
        events_per_s: Math.round(main.oursEventsPerS),
        baseline_events_per_s: Math.round(main.baselineEventsPerS),
        distinct_entities_per_batch: { customers: main.customers, merchants: main.merchants },
        applied_events_per_batch: main.applied,
        avg_item_bytes: { ours: main.oursItemBytes, baseline: main.baselineItemBytes },
        avg_wcu_per_write: { ours: main.oursWcuPerWrite, baseline: main.baselineWcuPerWrite },
        ratio_bound_if_items_under_1kb: round(main.boundIf1KbItems, 2),
        ratio_bound_issue_formula: round(main.formulaBound, 2),
        ratio_bound_if_items_under_1kb_by_batch_records: main.boundByBatch,
        recent_ids: main.recent,
        id_buckets: main.idBuckets,
        keys_read_per_batch: main.keysReadPerBatch,
        read_units_per_1000_events: main.readUnits,
        baseline_read_units_per_1000_events: main.baselineReadUnits,
        ratio_priced_with_reads: round(main.pricedRatio, 2),
        zipf_1_2: {
          write_units_per_1000_events: steep.ours,
          baseline_write_units_per_1000_events: steep.baseline,
          ratio: round(steep.ratio, 2),
          distinct_entities_per_batch: { customers: steep.customers, merchants: steep.merchants },
          ratio_bound_if_items_under_1kb: round(steep.boundIf1KbItems, 2),
          ratio_bound_if_items_under_1kb_by_batch_records: steep.boundByBatch,
          avg_wcu_per_write: steep.oursWcuPerWrite,
          recent_ids: steep.recent,
          id_buckets: steep.idBuckets,
        },
        workload: `batches of ${BATCH} records; customers 10,000 Zipf s=0.99 (extra: 1.2); merchants 500 Zipf s=${MERCHANT_EXPONENT}; 2% malformed, 2% producer retries, 10% contract v1; ${EVENTS_PER_SECOND} records/s of event time`,
        batches: SCENARIOS.map(
          (c) => `s=${c.exponent}: ${c.warm} warm-up + ${c.measured} measured (medians)`,
        ),
        measured_history_s: `${SCENARIOS[0].warm}-${SCENARIOS[0].warm + SCENARIOS[0].measured}`,
        item_layout: LAYOUT,
        dynamodb_local_capacity: { ...probe },
        failures: [...main.failures, ...steep.failures],
      };
      const w = (x: { customer: number; merchant: number }) => `${fmt(x.customer)} / ${fmt(x.merchant)}`;
      return {
        json,
        table: [
          { label: 'WCU per 1,000 events (ours)', value: fmt(main.ours), note: 'customers Zipf 0.99' },
          { label: 'WCU per 1,000 events (baseline)', value: fmt(main.baseline) },
          {
            label: 'ratio (baseline / ours)',
            value: fmt(main.ratio, 2),
            note: `target ${TARGET_RATIO}; per batch ${main.ratios.join(', ')}`,
          },
          {
            label: 'distinct entities per batch',
            value: `${main.customers} + ${main.merchants}`,
            note: `customers + merchants, ${main.applied} applied events`,
          },
          {
            label: 'ratio bound if items <= 1 KB',
            value: fmt(main.boundIf1KbItems, 2),
            note: `issue formula ${fmt(main.formulaBound, 2)}; by batch records ${Object.entries(
              main.boundByBatch,
            )
              .map(([k, v]) => `${k}: ${v}`)
              .join(', ')}`,
          },
          {
            label: 'our item bytes (customer / merchant)',
            value: w(main.oursItemBytes),
            note: `WCU per write ${main.oursWcuPerWrite.customer} / ${main.oursWcuPerWrite.merchant}, largest ${main.oursWcuPerWrite.largest}`,
          },
          {
            label: 'baseline item bytes (feature / idem.)',
            value: `${fmt(main.baselineItemBytes.feature)} / ${fmt(main.baselineItemBytes.idempotency)}`,
            note: `WCU per write ${main.baselineWcuPerWrite.feature_update} / ${main.baselineWcuPerWrite.idempotency}`,
          },
          {
            label: 'ids kept in customer items (max)',
            value: fmt(main.recent.max_entries_per_customer),
            note: `${main.recent.entry_bytes} B each as stored; largest item ${fmt(main.recent.largest_item_bytes)} B; ${Math.round(main.recent.deflated_customer_items_share * 100)}% of customer items deflated`,
          },
          {
            label: 'id buckets per batch',
            value: `${fmt(main.idBuckets.writes_per_batch)} writes, ${fmt(main.idBuckets.wcu_per_batch)} WCU`,
            note: `UpdateItem adds of settled ids moving out of customer items; largest ${main.idBuckets.largest_wcu} WCU`,
          },
          {
            label: 'keys read per batch',
            value: `${fmt(main.keysReadPerBatch.entities)} + ${fmt(main.keysReadPerBatch.id_buckets)}`,
            note: 'entity items + id buckets (BatchGetItem); a bucket is read only where ids may have moved',
          },
          {
            label: 'read units per 1,000 events',
            value: `${fmt(main.readUnits)} vs ${fmt(main.baselineReadUnits)}`,
            note: `ours vs baseline (strongly consistent BatchGetItem); priced with reads at a fifth of a write (on-demand): ratio ${fmt(main.pricedRatio, 2)}`,
          },
          {
            label: 'events/s on DynamoDB Local',
            value: `${fmt(main.oursEventsPerS)} vs ${fmt(main.baselineEventsPerS)}`,
            note: 'ours vs baseline',
          },
          {
            label: 'Zipf 1.2: WCU ours / baseline',
            value: `${fmt(steep.ours)} / ${fmt(steep.baseline)}`,
            note: `ratio ${fmt(steep.ratio, 2)}, ${steep.customers} + ${steep.merchants} entities, bound ${fmt(steep.boundIf1KbItems, 2)}`,
          },
          {
            label: 'DynamoDB Local capacity',
            value: probe.matchesOneUnitPerKB ? '1 WCU per KB' : 'see JSON',
            note: `update on 10 KB item: ${probe.updateSmallOn10kItem}; failed condition reports units: ${probe.failedConditionReportsUnits}; >400 KB: ${probe.putOver400KB.split(':')[0]}`,
          },
          ...(json.failures && (json.failures as string[]).length
            ? [
                {
                  label: 'FAILED BATCHES',
                  value: String((json.failures as string[]).length),
                  note: (json.failures as string[])[0],
                },
              ]
            : []),
        ],
      };
    } finally {
      await standIns.stop();
    }
  },
};
