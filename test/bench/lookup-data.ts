/**
 * Data for the lookup benchmark: a day of card payments ending just before `now` (so nothing is
 * expired and every window has tiles), customers drawn uniformly, merchants Zipf s=0.99 (a few busy
 * merchants with large tile sets), written by the real processor core into any `EntityStore`: the
 * DynamoDB one for the HTTP figures, the in-memory one for the handler overhead. Seeded: the same
 * entities and events on every run and in every process.
 */
import { InMemoryOfflineSink, InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import type { EntityStore, LoadOptions } from '../../lambdas/core/ports.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { seededRandom } from '../../local/seeded-random.js';
import { contracts, featureGroupsByName, groupsFedBy } from '../../schemas/index.js';
import { FIRST_SEQUENCE } from '../support/records.js';
import { Zipf } from './workload.js';

export const LOOKUP_DATA = {
  customers: 2_000,
  merchants: 200,
  merchantExponent: 0.99,
  events: 12_000,
  /** Event time spans this much history, ending a minute before `now`. */
  historyMs: 24 * 3_600_000,
  seed: 5,
} as const;

/**
 * What a fraud-scoring model asks for: 10 features across the two groups, latest values and
 * windowed aggregates (so the tiles are read too). Only two groups exist (customer, merchant), so a
 * batch request spans both: 100 entities x 2 groups = 200 items per request, for ours and the baseline.
 */
export const CUSTOMER_FEATURES = [
  'last_amount_minor',
  'last_country',
  'last_channel',
  'txn_count_1h',
  'amount_sum_24h',
  'merchant_distinct_24h',
] as const;
export const MERCHANT_FEATURES = [
  'last_amount_minor',
  'txn_count_1h',
  'amount_sum_24h',
  'amount_mean_24h',
] as const;
export const FEATURE_REFS: readonly string[] = [
  ...CUSTOMER_FEATURES.map((f) => `customer:${f}`),
  ...MERCHANT_FEATURES.map((f) => `merchant:${f}`),
];

/** What the lookup core asks the store for these features of `group`: the latest values by name, tiles if any window. */
export function loadOptionsOf(group: string, features: readonly string[]): LoadOptions {
  const resolved = features.map((name) =>
    featureGroupsByName.get(group)?.features.find((f) => f.name === name),
  );
  return {
    latest: resolved.filter((f) => f?.kind === 'latest').map((f) => f?.name ?? ''),
    tiles: resolved.some((f) => f?.kind === 'window'),
  };
}

export const customerIdOf = (i: number): string => `cus_${String(i).padStart(6, '0')}`;
export const merchantIdOf = (i: number): string => `mer_${String(i).padStart(5, '0')}`;

const CHANNELS = ['pos', 'ecommerce', 'atm', 'wallet'] as const;
const COUNTRIES = ['AE', 'AE', 'AE', 'AE', 'SA', 'GB', 'IN'] as const;
const SHARD = 'shardId-000000000000';

/** Valid v2 transactions in event-time order, keyed by customer as producers must key them. */
export function lookupRecords(now: number): InputRecord[] {
  const { customers, merchants, merchantExponent, events, historyMs, seed } = LOOKUP_DATA;
  const random = seededRandom(seed);
  const merchantRank = new Zipf(merchants, merchantExponent);
  const start = now - 60_000 - historyMs;
  const out: InputRecord[] = [];
  for (let i = 0; i < events; i++) {
    // Every customer at least once (so every lookup finds it), the rest at random.
    const customerId = customerIdOf(i < customers ? i : Math.floor(random() * customers));
    const channel = CHANNELS[Math.floor(random() * CHANNELS.length)] as string;
    const eventTime = start + Math.floor((i * historyMs) / events);
    const event = {
      eventId: `evt_lookup_${String(i).padStart(8, '0')}`,
      customerId,
      // Every merchant at least once too.
      merchantId: merchantIdOf(i < merchants ? i : merchantRank.sample(random) - 1),
      amountMinor: 100 + Math.floor(random() ** 3 * 2_000_000),
      currency: random() < 0.9 ? 'AED' : 'USD',
      country: COUNTRIES[Math.floor(random() * COUNTRIES.length)] as string,
      channel,
      customerEmail: `${customerId}@example.ae`,
      mcc: '5411',
      cardPresent: channel === 'pos' || channel === 'atm',
      eventTime: new Date(eventTime).toISOString(),
    };
    const sequenceNumber = String(FIRST_SEQUENCE + BigInt(i) * 10n);
    out.push({
      recordId: `${SHARD}:${sequenceNumber}`,
      shardId: SHARD,
      sequenceNumber,
      partitionKey: customerId,
      arrivalTime: eventTime + 500,
      data: Buffer.from(JSON.stringify({ contract: 'transaction', version: 2, event })).toString('base64'),
    });
  }
  return out;
}

/** Records per `processBatch`: large batches (Lambda's can hold 10,000) write each entity once or twice, not once per 1,000 records. */
const LOAD_BATCH = 6_000;

/** Runs the records through `processBatch` into `store`; throws unless every one applied. */
export async function loadLookupData(store: EntityStore, now: number): Promise<{ applied: number }> {
  const records = lookupRecords(now);
  const deps = {
    contracts,
    groupsFedBy,
    entities: store,
    offline: new InMemoryOfflineSink(),
    sideOutput: new InMemorySideOutput(),
  };
  let applied = 0;
  for (let i = 0; i < records.length; i += LOAD_BATCH) {
    const result = await processBatch(records.slice(i, i + LOAD_BATCH), deps);
    if (result.failed.length > 0 || result.counts.applied !== Math.min(LOAD_BATCH, records.length - i)) {
      throw new Error(
        `loading lookup data: batch ${i / LOAD_BATCH} applied ${result.counts.applied}, failed ${result.failed.length} (${result.errors[0]?.message ?? JSON.stringify(result.counts)})`,
      );
    }
    applied += result.counts.applied;
  }
  return { applied };
}

/**
 * Seeded picks of request entities from the loaded ones: customers uniformly, merchants with the
 * traffic's own skew (a busy merchant is asked about as often as it sells).
 */
export function entityPicker(seed: number): {
  customer(): string;
  merchant(): string;
  rows(n: number): { customer_id: string; merchant_id: string }[];
} {
  const random = seededRandom(seed);
  const merchantRank = new Zipf(LOOKUP_DATA.merchants, LOOKUP_DATA.merchantExponent);
  const customer = () => customerIdOf(Math.floor(random() * LOOKUP_DATA.customers));
  const merchant = () => merchantIdOf(merchantRank.sample(random) - 1);
  return {
    customer,
    merchant,
    rows: (n) => Array.from({ length: n }, () => ({ customer_id: customer(), merchant_id: merchant() })),
  };
}
