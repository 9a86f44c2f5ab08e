/**
 * The lookup API, end to end on one machine: the local platform (`startLocalPlatform`: the real
 * lookup handler behind the API Gateway stand-in with emulated IAM auth, on DynamoDB Local), called
 * over HTTP with SigV4-signed requests of the `consumer-fraud-scoring` role.
 *
 * - `lookup`, entities 1: `GET /v1/features/customer/{id}` (one entity x one group, 6 features).
 * - `lookup`, entities 100: `POST /v1/features:get`, 100 entities x 10 features of the customer and
 *   merchant groups (only two groups exist, so 200 items per request, not the 3 x 100).
 *   Baseline for both, in the same run, interleaved with ours on the same entities: sequential
 *   GetItem calls reading whole items, one per entity per group (lookup-baseline.ts). `ratio` =
 *   baseline p99 / our p99 (above 1: ours is faster). Also timed next to them: the store call alone
 *   (`DynamoDbEntityStore.load`, same keys and projection, from the bench process), so that what the
 *   HTTP hop, IAM auth and the handler add can be told from what DynamoDB Local takes.
 * - `lookup-load`: autocannon for 30 s on the single-entity GET, 10 connections, pre-signed requests.
 * - Handler overhead without the store (lookup-handler.ts): `createHandler` in-process, in-memory store.
 *
 * Data: a day of payments for 2,000 customers and 200 merchants written by the processor core into
 * the platform's online table (lookup-data.ts). The platform's Kinesis poller is stopped once it is
 * up: the bench sends no events, and in AWS the poller does not share the lookup function's process.
 * The figures are of this machine (client, API, handler and SDK share one Node process; DynamoDB
 * Local is a Java process on the same cores), not of AWS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import { LATEST_ITEM_LAYOUT } from '../../lambdas/adapters/entity-item-codec.js';
import { localDynamoDbClient } from '../../local/clients.js';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform.js';
import { uniquePrefix } from '../support/resources.js';
import { type Bench, fmt } from './bench.js';
import { SequentialGetItemBaseline } from './lookup-baseline.js';
import {
  CUSTOMER_FEATURES,
  entityPicker,
  FEATURE_REFS,
  LOOKUP_DATA,
  loadLookupData,
  loadOptionsOf,
  MERCHANT_FEATURES,
} from './lookup-data.js';
import { measureHandlerOverheadInChild } from './lookup-handler.js';
import { loadTest, presign, SignedLookupCaller } from './lookup-http.js';
import { itemSizes, measure } from './lookup-measure.js';
import { lookupReport } from './lookup-report.js';
import { timed } from './stats.js';

const ROLE = 'consumer-fraud-scoring';
/** Calls per scenario; the baseline at 100 entities (200 sequential reads a call) is sampled less often. */
const SINGLE = { warm: 200, measured: 1_000 } as const;
const BATCH = {
  warm: 30,
  measured: 400,
  baselineWarm: 3,
  baselineMeasured: 100,
  storeWarm: 10,
  storeMeasured: 200,
} as const;
const LOAD = { seconds: 30, connections: 10, presigned: 500 } as const;

const CUSTOMER_GROUP = { group: 'customer', entity: 'customer_id', features: CUSTOMER_FEATURES };
const MERCHANT_GROUP = { group: 'merchant', entity: 'merchant_id', features: MERCHANT_FEATURES };
const CUSTOMER_LOAD = loadOptionsOf('customer', CUSTOMER_FEATURES);
const MERCHANT_LOAD = loadOptionsOf('merchant', MERCHANT_FEATURES);

async function runHttp(platform: LocalPlatform, now: number, log: (m: string) => void) {
  const loadClient = localDynamoDbClient(platform.standIns);
  const baselineClient = localDynamoDbClient(platform.standIns);
  const directClient = localDynamoDbClient(platform.standIns);
  const direct = new DynamoDbEntityStore({ tableName: platform.names.onlineTable, client: directClient });
  try {
    log(
      `loading ${fmt(LOOKUP_DATA.events)} events into ${platform.names.onlineTable} (processBatch, DynamoDbEntityStore)`,
    );
    const loading = await timed(() =>
      loadLookupData(
        // Written in the newest layout: what a lookup reads once an environment raises it.
        new DynamoDbEntityStore({
          tableName: platform.names.onlineTable,
          client: loadClient,
          writeLayout: LATEST_ITEM_LAYOUT,
        }),
        now,
      ),
    );
    const sizes = {
      customer: await itemSizes(
        loadClient,
        platform.names.onlineTable,
        entityPicker(3)
          .rows(100)
          .map((r) => `customer#${r.customer_id}`)
          .filter((pk, i, all) => all.indexOf(pk) === i),
      ),
      merchant: await itemSizes(
        loadClient,
        platform.names.onlineTable,
        entityPicker(4)
          .rows(100)
          .map((r) => `merchant#${r.merchant_id}`)
          .filter((pk, i, all) => all.indexOf(pk) === i),
      ),
    };
    log(`loaded in ${fmt(loading.timing.wallMs / 1000, 1)} s; mean item bytes ${JSON.stringify(sizes)}`);

    const credentials = platform.endpoints.api.roles[ROLE];
    if (!credentials) throw new Error(`the local platform declares no role ${ROLE}`);
    const caller = new SignedLookupCaller(platform.endpoints.api.url, platform.endpoints.region, {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
    });
    const baseline = new SequentialGetItemBaseline(baselineClient, platform.names.onlineTable);

    log(
      `entities 1: ${SINGLE.measured} signed GETs, each next to a whole-item GetItem and a direct store load`,
    );
    const pickSingle = entityPicker(21);
    let id = '';
    const single = await measure(
      SINGLE,
      () => {
        id = pickSingle.customer();
        return caller.get('customer', id, CUSTOMER_FEATURES);
      },
      {
        baseline: {
          ...SINGLE,
          call: () => baseline.read({ entities: [{ customer_id: id }], groups: [CUSTOMER_GROUP] }),
        },
        store: {
          ...SINGLE,
          call: () => direct.load([{ group: 'customer', entityId: id }], CUSTOMER_LOAD),
        },
      },
    );

    log(
      `entities 100: ${BATCH.measured} signed POSTs; baseline (200 sequential GetItems) next to 1 in ${BATCH.measured / BATCH.baselineMeasured}, a direct store load next to 1 in ${BATCH.measured / BATCH.storeMeasured}`,
    );
    const pickBatch = entityPicker(22);
    let rows: Record<string, string>[] = [];
    const batch = await measure(
      BATCH,
      () => {
        rows = pickBatch.rows(100);
        return caller.post({ features: FEATURE_REFS, entities: rows });
      },
      {
        baseline: {
          warm: BATCH.baselineWarm,
          measured: BATCH.baselineMeasured,
          call: () => baseline.read({ entities: rows, groups: [CUSTOMER_GROUP, MERCHANT_GROUP] }),
        },
        store: {
          warm: BATCH.storeWarm,
          measured: BATCH.storeMeasured,
          // As the lookup core does: one load per group, side by side.
          call: () =>
            Promise.all([
              direct.load(
                rows.map((r) => ({ group: 'customer', entityId: r.customer_id as string })),
                CUSTOMER_LOAD,
              ),
              direct.load(
                rows.map((r) => ({ group: 'merchant', entityId: r.merchant_id as string })),
                MERCHANT_LOAD,
              ),
            ]),
        },
      },
    );

    log(
      `load: autocannon ${LOAD.seconds} s, ${LOAD.connections} connections, ${LOAD.presigned} pre-signed GETs`,
    );
    const pickLoad = entityPicker(23);
    const requests = await presign(
      caller.signer,
      Array.from({ length: LOAD.presigned }, () =>
        caller.getUrl('customer', pickLoad.customer(), CUSTOMER_FEATURES),
      ),
    );
    const load = {
      ...(await loadTest(platform.endpoints.api.url, requests, LOAD)),
      loadAverage: loadavg()[0] ?? 0,
    };
    return {
      dataLoadSeconds: loading.timing.wallMs / 1000,
      sizes,
      single,
      batch,
      load: { ...load, connections: LOAD.connections, presigned: LOAD.presigned },
    };
  } finally {
    for (const client of [loadClient, baselineClient, directClient]) client.destroy();
  }
}

export const lookupBench: Bench = {
  name: 'lookup',
  description:
    'Lookup API over signed HTTP on the local platform (DynamoDB Local) vs sequential whole-item GetItem',
  async run(log) {
    const now = Date.now();
    log('handler overhead: createHandler in a child process, in-memory store, audit log at INFO');
    const handler = await measureHandlerOverheadInChild(now);
    const handlerLoadAverage = loadavg()[0] ?? 0;

    log('starting the local platform (stand-ins, provisioning, lookup API on 127.0.0.1)');
    const stateDir = mkdtempSync(join(tmpdir(), 'fp-bench-lookup-'));
    const started = await timed(() =>
      startLocalPlatform({ prefix: uniquePrefix('bl'), stateDir, apiPort: 0 }),
    );
    const platform = started.value;
    let http: Awaited<ReturnType<typeof runHttp>>;
    try {
      await platform.eventSourceMapping.stop();
      http = await runHttp(platform, now, log);
    } finally {
      await platform.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
    const report = lookupReport({
      ...http,
      handler: { ...handler, loadAverage: handlerLoadAverage },
      platformStartSeconds: started.timing.wallMs / 1000,
    });
    // The JSON lines; the runner then prints the bench's own line (the summary) and the table.
    for (const line of report.lines) process.stdout.write(`${JSON.stringify(line)}\n`);
    return { json: report.json, table: report.table };
  },
};
