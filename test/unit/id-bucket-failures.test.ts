/**
 * Id-bucket adds that keep failing (throttling, a bucket at its size limit) put their ids back into
 * the entity item after pruning capped it. Without a second cap there (found on review), a busy
 * customer's item kept every id of the lateness horizon, outgrew DynamoDB's 400 KB, and its batches
 * failed until the event source mapping gave them up (retryAttempts 5): records never applied.
 */
import { describe, expect, it } from 'vitest';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import type { EntityStore } from '../../lambdas/core/ports.js';
import { type ProcessorDeps, processBatch } from '../../lambdas/core/process-batch.js';
import { contracts, type FeatureGroup, featureGroupsByName } from '../../schemas/index.js';
import { BASE_TIME, envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';

const iso = (t: number) => new Date(t).toISOString();
const customer = featureGroupsByName.get('customer') as FeatureGroup;
const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
const dynamoDbBilling = new DynamoDbEntityStore({ tableName: 'unused' }).writeUnits;
const DYNAMODB_ITEM_LIMIT = 400 * 1024;

/** The in-memory store, billed and size-limited as DynamoDB is; bucket adds fail if told (throttling, an IAM or size error). */
function storeWith(options: { buckets: 'ok' | 'failing' | 'none' }) {
  const inner = new InMemoryEntityStore();
  const store: EntityStore = {
    load: (keys, o) => inner.load(keys, o),
    save: async (writes) => {
      const tooBig = writes.map((w) => dynamoDbBilling.sizeOf(w.key, w.state) > DYNAMODB_ITEM_LIMIT);
      const results = await inner.save(writes.filter((_, i) => !tooBig[i]));
      return writes.map((_, i) =>
        tooBig[i]
          ? { failed: new Error('ValidationException: Item size has exceeded the maximum allowed size') }
          : (results.shift() ?? 'saved'),
      );
    },
    ...(options.buckets === 'none'
      ? {}
      : {
          addIds:
            options.buckets === 'ok'
              ? (writes) => inner.addIds(writes)
              : async (writes) =>
                  writes.map(() => ({ failed: new Error('ProvisionedThroughputExceededException') })),
          writeUnits: dynamoDbBilling,
        }),
  };
  const deps: ProcessorDeps = {
    contracts,
    groupsFedBy: () => [customer, merchant],
    entities: store,
    offline: new InMemoryOfflineSink(),
    sideOutput: new InMemorySideOutput(),
    sleep: async () => {},
  };
  return { inner, deps };
}

/** Batch `b` of a busy customer: `n` events 500 ms apart (2 a second), all within the lateness horizon. */
const batch = (b: number, n: number) =>
  inputRecords(
    Array.from({ length: n }, (_, i) =>
      envelope(transaction({ eventTime: iso(BASE_TIME + (b * n + i) * 500) })),
    ),
    {
      firstSequence: FIRST_SEQUENCE + BigInt(b) * 100_000n,
      arrivalTime: BASE_TIME + ((b + 1) * n + 10) * 500,
    },
  );

describe('id-bucket add failures and the maxRecentEvents bound', () => {
  it('caps the ids an authority item keeps at maxRecentEvents when bucket adds fail, as it does without buckets', async () => {
    const small = { ...customer, maxRecentEvents: 50 };
    const kept = async (buckets: 'failing' | 'none') => {
      const { inner, deps } = storeWith({ buckets });
      const at = { ...deps, groupsFedBy: () => [small, merchant] };
      for (let b = 0; b < 40; b++) expect((await processBatch(batch(b, 5), at)).failed).toEqual([]);
      return Object.keys(inner.state('customer', 'cus_0001')?.recent ?? {}).length;
    };
    expect(await kept('none')).toBeLessThanOrEqual(50);
    expect(await kept('failing')).toBeLessThanOrEqual(50); // was 200: every id sent, all within the horizon
  });

  // Uncapped, with failing adds the customer's save was refused from about 4,750 ids (40 minutes of a
  // customer at 2 events a second) at every delivery.
  it.each(['none', 'ok', 'failing'] as const)(
    "completes every batch of a busy customer within Lambda's retries (id buckets: %s)",
    async (buckets) => {
      const { deps } = storeWith({ buckets });
      for (let b = 0; b < 140; b++) {
        const records = batch(b, 50);
        let result = await processBatch(records, deps);
        for (let retry = 0; retry < 5 && result.failed.length > 0; retry++) {
          const from = records.findIndex((r) => r.sequenceNumber === result.failed[0]);
          result = await processBatch(records.slice(from), deps);
        }
        expect(result.failed, `batch ${b}: ${result.errors[0]?.message}`).toEqual([]);
      }
    },
    60_000,
  );
});
