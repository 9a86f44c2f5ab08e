/**
 * An entity item stays writable whatever the cardinality of its distinct values: a customer paying
 * at 15,000 new merchants within an hour (card testing), through the real processor and DynamoDB
 * adapter, against a table that enforces DynamoDB's 400 KB item limit (found on review: the item
 * grew past it and every later batch of the customer failed).
 */
import { describe, expect, it } from 'vitest';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import { decodeTiles } from '../../lambdas/adapters/entity-item-codec.js';
import { InMemoryOfflineSink, InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import { contracts, DEFAULT_MAX_DISTINCT, featureGroupsByName, groupsFedBy } from '../../schemas/index.js';
import { fakeTable, itemSize } from '../support/fake-dynamodb-table.js';
import { BASE_TIME, envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';

const customer = featureGroupsByName.get('customer') as NonNullable<
  ReturnType<typeof featureGroupsByName.get>
>;

describe('entity item size (DynamoDB 400 KB)', () => {
  it('a hot customer with many distinct merchants in its 7-day window can still be written', async () => {
    const { ddb, items, client } = fakeTable();
    try {
      const store = new DynamoDbEntityStore({ tableName: 'online', client });
      const deps = {
        contracts,
        groupsFedBy,
        entities: store,
        offline: new InMemoryOfflineSink(),
        sideOutput: new InMemorySideOutput(),
        sleep: async () => {},
        now: () => BASE_TIME + 3_600_000,
      };
      // One customer, 500 payments a batch, each at a new merchant, all within one hour of event time
      // (about 7 payments a second): 30 batches, 15,000 distinct merchants. From about 12,000 distinct
      // merchants on (batch 24), the item is over 400 KB: PutItem fails with a ValidationException.
      let seq = FIRST_SEQUENCE;
      const failedBatches: number[] = [];
      for (let b = 0; b < 30; b++) {
        const payloads = Array.from({ length: 500 }, (_, i) => {
          const n = b * 500 + i;
          return envelope(
            transaction({
              customerId: 'cus_hot1',
              merchantId: `mer_${String(n).padStart(8, '0')}`,
              eventId: `evt_hot_${String(n).padStart(8, '0')}`,
              eventTime: new Date(BASE_TIME + n * 150).toISOString(),
            }),
          );
        });
        const records = inputRecords(payloads, { firstSequence: seq, arrivalTime: BASE_TIME + 3_600_000 });
        seq += 10_000n;
        const result = await processBatch(records, deps);
        if (result.failed.length > 0 || result.parked > 0) failedBatches.push(b);
      }
      const stored = items.get('customer#cus_hot1');
      // Before distinct counts saturated, the item stopped being writable from batch 24 on: every
      // later batch of this customer failed (and, after the event source mapping's retries, its
      // records went to the on-failure destination, never applied).
      expect(failedBatches).toEqual([]);
      expect(itemSize(stored as Record<string, unknown>)).toBeLessThan(300 * 1024);
      const { tiles } = decodeTiles(stored?.tl as string);
      const windows = evaluateWindows(customer, tiles, BASE_TIME + 3_600_000);
      expect(windows.merchant_distinct_24h).toBe(DEFAULT_MAX_DISTINCT);
      expect(windows.txn_count_24h).toBe(15_000);
    } finally {
      ddb.restore();
    }
  }, 120_000);
});
