/**
 * Exactly-once on the stand-ins, tested the way Flink tests it: run the real processor handler
 * behind the local event source mapping over kinesalite, DynamoDB Local and s3rver, make it crash
 * after some of its writes (several times), fail some writes, redeliver batches that succeeded,
 * then validate every window sum and count EXACTLY against a batch recomputation (which catches
 * loss and double counting at once) and account for every record from the stores themselves.
 */

import { randomBytes } from 'node:crypto';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FeatureEventProducer } from '../../clients/feature-event-producer.js';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import { LATEST_ITEM_LAYOUT } from '../../lambdas/adapters/entity-item-codec.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import { HmacTokenizer } from '../../lambdas/core/tokens.js';
import { createProcessorDeps } from '../../lambdas/processor/deps.js';
import { createHandler } from '../../lambdas/processor/handler.js';
import { processorConfigSchema, readConfig } from '../../lambdas/shared/config.js';
import { processorEnvironment } from '../../lib/platform-spec.js';
import { type AuditCounts, auditOutcomes } from '../../local/audit.js';
import { localKinesisClient } from '../../local/clients.js';
import {
  type EventSourceMappingStats,
  type KinesisHandler,
  LocalEventSourceMapping,
} from '../../local/event-source-mapping.js';
import { InMemoryOnFailureDestination } from '../../local/on-failure-destination.js';
import { standInSdkEnvironment } from '../../local/platform.js';
import {
  type ReferenceResult,
  referenceFeatures,
  referenceWindow,
  windowsOf,
} from '../../local/reference-features.js';
import { seededRandom } from '../../local/seeded-random.js';
import type { FeatureGroup } from '../../schemas/index.js';
import { featureGroupsByName, groupsFedBy } from '../../schemas/index.js';
import { transaction as transactionContract } from '../../schemas/transaction.contract.js';
import { provisionTestResources, type TestResources } from '../support/aws-resources.js';
import { FaultyEntityStore } from '../support/fault-stores.js';
import { envelope, type TransactionFields } from '../support/records.js';
import { uniquePrefix } from '../support/resources.js';
import { readParquetRows } from '../support/s3.js';

const standIns = inject('standIns');
const MINUTE = 60_000;

interface Traffic {
  /** In send order: the payloads, and the valid events among them (retries included) for the reference. */
  readonly records: readonly { readonly partitionKey: string; readonly payload: string }[];
  readonly events: readonly TransactionFields[];
  readonly malformed: number;
}

/**
 * Card traffic of the last day for a few hot and some cold customers and merchants: mostly in
 * order, some out of order within the hour of allowed lateness, some beyond it, producer retries
 * of recent events (duplicates) and of old ones (past the id horizon: late), a few invalid records.
 */
function planTraffic(count: number, seed: number): Traffic {
  const next = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T;
  const customers = ['cus_eohot1', 'cus_eohot2', 'cus_eohot2', 'cus_eohot1', 'cus_eocold1', 'cus_eocold2'];
  const merchants = ['mer_eohot1', 'mer_eohot1', 'mer_eohot2', 'mer_eocold1', 'mer_eocold2'];
  const records: { partitionKey: string; payload: string }[] = [];
  const events: TransactionFields[] = [];
  let malformed = 0;
  // Ends before now: an event time more than 5 minutes after its arrival would be quarantined.
  let clock = Date.now() - count * 40_000 - 10 * MINUTE;
  for (let i = 0; i < count; i++) {
    clock += 20_000 + Math.floor(next() * 20_000);
    const roll = next();
    if (roll < 0.05 && events.length > 0) {
      const retried = events[Math.max(0, events.length - 1 - Math.floor(next() * (roll < 0.01 ? 600 : 30)))];
      if (retried) {
        events.push(retried);
        records.push({ partitionKey: retried.customerId, payload: envelope(retried) });
        continue;
      }
    }
    const lag = roll < 0.08 ? 70 + next() * 120 : roll < 0.3 ? next() * 55 : 0;
    const customerId = pick(customers);
    const fields: TransactionFields = {
      eventId: `evt_eo_${seed}_${String(i).padStart(5, '0')}`,
      customerId,
      merchantId: pick(merchants),
      amountMinor: Math.floor(next() * 100_000),
      currency: pick(['AED', 'USD', 'EUR']),
      country: pick(['AE', 'SA']),
      channel: pick(['pos', 'ecommerce', 'atm', 'wallet']),
      customerEmail: `${customerId}@example.ae`,
      eventTime: new Date(clock - Math.floor(lag * MINUTE)).toISOString(),
    };
    if (next() < 0.005) {
      malformed++;
      records.push({ partitionKey: customerId, payload: envelope({ ...fields, currency: 'dirham' }) });
      continue;
    }
    events.push(fields);
    records.push({ partitionKey: customerId, payload: envelope(fields) });
  }
  return { records, events, malformed };
}

describe('exactly-once on the stand-ins: crashes after writes, failed writes and redeliveries', () => {
  const tokenKey = randomBytes(32);
  const traffic = planTraffic(3_000, 20261125);
  const reference: ReferenceResult = referenceFeatures(
    traffic.events.map((fields) => ({ contract: transactionContract, fields: { ...fields } })),
    groupsFedBy,
  );
  let resources: TestResources;
  let store: FaultyEntityStore | undefined;
  let stats: EventSourceMappingStats;
  let givenUp: InMemoryOnFailureDestination;
  let audit: AuditCounts;

  beforeAll(async () => {
    resources = await provisionTestResources(standIns, 2);
    const { names } = resources;
    // The processor's composition root reads the SDK's endpoints and credentials from the environment.
    Object.assign(process.env, {
      ...standInSdkEnvironment(standIns),
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    const config = readConfig(processorConfigSchema, {
      ...processorEnvironment(names, LATEST_ITEM_LAYOUT),
      S3_FORCE_PATH_STYLE: 'true',
      PII_TOKEN_KEY: tokenKey.toString('base64'),
      PII_SEAL_KEY: randomBytes(32).toString('base64'),
    });
    const handler = createHandler(() => {
      const deps = createProcessorDeps(config);
      // Crashes (the handler throws) right after these writes were stored (entities and moves of
      // ids to their buckets, about 280 in the run); every 37th write fails.
      store = new FaultyEntityStore(deps.entities, {
        crashAfterWrites: [20, 50, 90, 130, 170],
        failEvery: 37,
      });
      return { ...deps, entities: store };
    });

    const producer = new FeatureEventProducer({
      kinesis: resources.kinesis,
      streamName: names.stream,
      contract: transactionContract,
    });
    const sent = await producer.sendRaw(
      traffic.records.map((r) => ({ partitionKey: r.partitionKey, data: Buffer.from(r.payload) })),
    );
    expect(sent.unsent).toEqual([]);
    expect(sent.rejected).toEqual([]);

    givenUp = new InMemoryOnFailureDestination();
    let crashes = 0;
    const esm = new LocalEventSourceMapping({
      kinesis: resources.kinesis,
      streamName: names.stream,
      handler: handler as KinesisHandler,
      settings: {
        batchSize: 100,
        maxBatchingWindowMs: 0,
        bisectBatchOnError: true,
        retryAttempts: 20,
        maxRecordAgeSeconds: -1,
      },
      onFailure: givenUp,
      pollIntervalMs: 20,
      retryBackoffMs: 1,
      faults: {
        // A retry after a lost response, every 4th successful batch ...
        redeliverEvery: 4,
        // ... and a crash after the handler's writes, on some invocations.
        crash: ({ invocation }) => invocation % 7 === 3 && crashes++ < 6,
      },
    });
    await esm.start();
    try {
      await esm.drain(60_000);
    } finally {
      await esm.stop();
      stats = esm.stats;
    }
    audit = await auditOutcomes({ s3: resources.s3 }, names);
  }, 120_000);

  afterAll(() => {
    resources?.kinesis.destroy();
    resources?.dynamodb.destroy();
    resources?.s3.destroy();
  });

  it('went through every fault it was given, and gave up on no record', () => {
    expect(store?.crashes).toBe(5);
    expect(store?.idMoves).toBeGreaterThan(0);
    expect(store?.failures).toBeGreaterThan(0);
    expect(stats.injectedCrashes).toBe(6);
    expect(stats.injectedRedeliveries).toBeGreaterThan(5);
    expect(stats.functionErrors).toBeGreaterThanOrEqual(11);
    expect(stats.partialFailures).toBeGreaterThan(0);
    expect(givenUp.sent).toEqual([]);
    expect(stats.recordsDropped).toBe(0);
    expect(stats.recordsSucceeded).toBe(traffic.records.length);
  });

  it('has exactly the recomputed windows, sums and counts included, and latest values for every entity', async () => {
    const entities = new DynamoDbEntityStore({
      tableName: resources.names.onlineTable,
      client: resources.dynamodb,
    });
    const refs = [...reference.entities.values()];
    const stored = await entities.load(refs.map((r) => ({ group: r.group, entityId: r.entityId })));
    const tokenizer = new HmacTokenizer(async () => tokenKey);
    const differences: string[] = [];
    for (const [i, ref] of refs.entries()) {
      const group = featureGroupsByName.get(ref.group) as FeatureGroup;
      const state = stored[i]?.state;
      const where = `${ref.group}#${ref.entityId}`;
      if (!state?.latest) {
        differences.push(`${where}: missing`);
        continue;
      }
      const newest = Math.max(...ref.events.map((e) => e.eventTime));
      for (const asOf of [newest, newest + 2 * MINUTE, newest + 45 * MINUTE, newest + 20 * 60 * MINUTE]) {
        const got = evaluateWindows(group, state.tiles, asOf);
        for (const f of windowsOf(group)) {
          const want = referenceWindow(f, ref.events, asOf);
          if (got[f.name] !== want)
            differences.push(`${where} ${f.name} @${asOf}: ${got[f.name]}, want ${want}`);
        }
      }
      if (state.latest.eventId !== ref.latest.eventId) differences.push(`${where}: latest event differs`);
      for (const f of group.features.filter((x) => x.kind === 'latest')) {
        const raw = ref.latest.values[f.name] ?? null;
        const [token] =
          f.classification === 'pii' && typeof raw === 'string'
            ? await tokenizer.tokenize([{ field: f.field, value: raw }])
            : [raw];
        if ((state.latest.values[f.name] ?? null) !== token) differences.push(`${where}: ${f.name} differs`);
      }
    }
    expect(refs.length).toBe(8); // 4 customers, 4 merchants
    expect(differences).toEqual([]);
  });

  it('accounts for every record exactly once: applied, duplicate, quarantined or late', () => {
    const expected = {
      applied: reference.counts.applied,
      duplicates: reference.counts.duplicates,
      quarantined: traffic.malformed,
      late: reference.counts.late,
    };
    expect(audit).toEqual(expected);
    expect(audit.applied + audit.duplicates + audit.quarantined + audit.late).toBe(traffic.records.length);
    expect(expected.duplicates).toBeGreaterThan(50);
    expect(expected.late).toBeGreaterThan(50);
    expect(expected.quarantined).toBeGreaterThan(0);
  });

  it.each(['customer', 'merchant'])(
    'keeps in the %s feature history exactly the events the recomputation applied to it',
    async (name) => {
      const group = featureGroupsByName.get(name) as FeatureGroup;
      const rows = await readParquetRows(
        resources.s3,
        resources.names.offlineBucket,
        `features/group=${name}/`,
      );
      const got = new Set(rows.map((r) => `${r[group.entity.name]}/${r.event_id}`));
      const want = new Set(
        [...reference.entities.values()]
          .filter((e) => e.group === name)
          .flatMap((e) => e.events.map((ev) => `${e.entityId}/${ev.eventId}`)),
      );
      expect([...got].sort()).toEqual([...want].sort());
    },
  );
});

describe('LocalEventSourceMapping fault injection', () => {
  const kinesis = provisionKinesis();
  const records = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`r${i}`) }));

  afterAll(() => kinesis.client.destroy());

  /** A handler double that records what each invocation got. */
  const recorder = () => {
    const calls: string[][] = [];
    const handler: KinesisHandler = async (event) => {
      calls.push(
        event.Records.map((r: KinesisStreamRecord) => Buffer.from(r.kinesis.data, 'base64').toString()),
      );
    };
    return { calls, handler };
  };

  const run = async (n: number, esm: (stream: string) => LocalEventSourceMapping) => {
    const stream = await kinesis.stream();
    await kinesis.client.send(new PutRecordsCommand({ StreamName: stream, Records: records(n) }));
    const mapping = esm(stream);
    await mapping.start();
    try {
      await mapping.drain(10_000);
    } finally {
      await mapping.stop();
    }
    return mapping.stats;
  };
  const options = (stream: string, handler: KinesisHandler) => ({
    kinesis: kinesis.client,
    streamName: stream,
    handler,
    pollIntervalMs: 20,
    retryBackoffMs: 1,
  });

  it('delivers every Nth succeeded batch once more, as a retry after a lost response', async () => {
    const { calls, handler } = recorder();
    const stats = await run(
      6,
      (stream) =>
        new LocalEventSourceMapping({
          ...options(stream, handler),
          settings: { batchSize: 2, maxBatchingWindowMs: 0 },
          faults: { redeliverEvery: 2 },
        }),
    );

    expect(calls).toEqual([
      ['r0', 'r1'],
      ['r2', 'r3'],
      ['r2', 'r3'],
      ['r4', 'r5'],
    ]);
    expect(stats).toMatchObject({ invocations: 4, injectedRedeliveries: 1, recordsSucceeded: 6 });
  });

  it('throws away the response of a crashed invocation and retries its batch as after a function error', async () => {
    const { calls, handler } = recorder();
    const stats = await run(
      4,
      (stream) =>
        new LocalEventSourceMapping({
          ...options(stream, handler),
          settings: { batchSize: 4, maxBatchingWindowMs: 0, bisectBatchOnError: true },
          faults: { crash: ({ invocation }) => invocation === 1 },
        }),
    );

    // The handler ran on the whole batch (its writes happened), then the halves were retried.
    expect(calls).toEqual([
      ['r0', 'r1', 'r2', 'r3'],
      ['r0', 'r1'],
      ['r2', 'r3'],
    ]);
    expect(stats).toMatchObject({ injectedCrashes: 1, functionErrors: 1, recordsSucceeded: 4 });
  });

  it('refuses a redelivery period that is not a positive integer', () => {
    const { handler } = recorder();
    expect(
      () => new LocalEventSourceMapping({ ...options('s', handler), faults: { redeliverEvery: 0 } }),
    ).toThrow('faults.redeliverEvery must be a positive integer (got 0)');
  });
});

/** A Kinesis client on the stand-in and a way to create one-shard streams with unique names. */
function provisionKinesis() {
  const client = localKinesisClient(standIns);
  return {
    client,
    stream: async () => {
      const name = uniquePrefix('eo');
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      for (;;) {
        const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
        if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return name;
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}
