/**
 * The processor handler behind the event source mapping, with the deployed settings
 * (STREAM_SOURCE_DEFAULTS: batch 500, bisect on error, ReportBatchItemFailures, 5 retries) through
 * the local mapping's retry policy (`runBatch`), over the in-memory adapters.
 *
 * One entity's write keeps failing (a poison entity: an item DynamoDB refuses, a hot key throttled
 * through every retry). Lambda retries a partial response from the first failed record and bisects
 * only on a function error, so before 2026-11-26, when the handler reported item failures for it,
 * every later record of its batch, of any customer, went to the on-failure destination with it
 * after the retries (found on review). Now a batch that completes nothing fails whole and is bisected.
 */
import { describe, expect, it } from 'vitest';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import type { EntityStore } from '../../lambdas/core/ports.js';
import type { ProcessorDeps } from '../../lambdas/core/process-batch.js';
import { createHandler } from '../../lambdas/processor/handler.js';
import { STREAM_SOURCE_DEFAULTS } from '../../lib/platform-spec.js';
import { type GivenUp, invokeHandler, lambdaContext, runBatch } from '../../local/esm/invocation.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { envelope, inputRecords, kinesisEvent, transaction } from '../support/records.js';

const identity = {
  region: 'me-central-1',
  accountId: '000000000000',
  functionName: 'processor',
  streamArn: 'arn:aws:kinesis:me-central-1:000000000000:stream/s',
};

function setup() {
  const poison = { on: true };
  const inner = new InMemoryEntityStore();
  // merchant#mer_poison can never be written (e.g. DynamoDB refuses the item); everything else works.
  const entities: EntityStore = {
    load: (keys, o) => inner.load(keys, o),
    save: async (writes) => {
      const bad = (w: { key: { entityId: string } }) => poison.on && w.key.entityId === 'mer_poison';
      const saved = await inner.save(writes.filter((w) => !bad(w)));
      return writes.map((w) =>
        bad(w) ? { failed: new Error('ValidationException: refused') } : (saved.shift() ?? 'saved'),
      );
    },
    addIds: (w) => inner.addIds(w),
  };
  const offline = new InMemoryOfflineSink();
  const sideOutput = new InMemorySideOutput();
  const deps: ProcessorDeps = {
    contracts,
    groupsFedBy,
    entities,
    offline,
    sideOutput,
    sleep: async () => {},
  };
  return { poison, inner, offline, sideOutput, handler: createHandler(() => deps) };
}

async function runDeployedPolicy(
  handler: ReturnType<typeof createHandler>,
  records: ReturnType<typeof kinesisEvent>['Records'],
) {
  const givenUp: GivenUp[] = [];
  const succeeded: string[] = [];
  await runBatch(records, {
    settings: STREAM_SOURCE_DEFAULTS,
    retryBackoffMs: 0,
    invoke: (batch) =>
      invokeHandler(
        handler as Parameters<typeof invokeHandler>[0],
        batch,
        lambdaContext(identity, Date.now() + 60_000),
        60_000,
      ),
    succeeded: (done) => {
      succeeded.push(...done.map((r) => r.kinesis.sequenceNumber));
    },
    giveUp: async (g) => {
      givenUp.push(g);
    },
    sleep: async () => true,
    stopped: () => false,
    now: () => Date.now(),
  });
  return { givenUp, succeeded };
}

describe('a poison entity under the deployed event source mapping settings', () => {
  const now = Date.now();
  const at = (s: number) => new Date(now - 60_000 + s * 1000).toISOString();
  // r0: healthy; r1: the poison (its merchant cannot be written); r2..r9: other, healthy customers.
  const events = [
    transaction({
      customerId: 'cus_h000',
      merchantId: 'mer_okay',
      customerEmail: 'a@x.ae',
      eventTime: at(0),
    }),
    transaction({
      customerId: 'cus_pois',
      merchantId: 'mer_poison',
      customerEmail: 'b@x.ae',
      eventTime: at(1),
    }),
    ...Array.from({ length: 8 }, (_, i) =>
      transaction({
        customerId: `cus_h00${i + 1}`,
        merchantId: 'mer_okay',
        customerEmail: 'c@x.ae',
        eventTime: at(2 + i),
      }),
    ),
  ];
  const records = kinesisEvent(
    inputRecords(
      events.map((e) => envelope(e)),
      { arrivalTime: now },
    ),
  ).Records;
  const seqs = records.map((r) => r.kinesis.sequenceNumber);

  it('isolates the poison record: only it is given up, the healthy records after it complete', async () => {
    const { handler } = setup();
    const { givenUp, succeeded } = await runDeployedPolicy(handler, records);
    const given = givenUp.flatMap((g) => g.records.map((r) => r.kinesis.sequenceNumber));
    // Bisect on error is configured precisely so that one bad record does not take its batch down.
    expect(given).toEqual([seqs[1]]);
    expect(succeeded).toEqual(seqs.filter((_, i) => i !== 1));
  });
});

describe('what the handler answers', () => {
  const now = Date.now();
  const event = (customers: string[]) =>
    kinesisEvent(
      inputRecords(
        customers.map((customerId, i) =>
          envelope(
            transaction({
              customerId,
              merchantId: customerId === 'cus_pois' ? 'mer_poison' : 'mer_okay',
              eventTime: new Date(now - 60_000 + i * 1000).toISOString(),
            }),
          ),
        ),
        { arrivalTime: now },
      ),
    );

  it('reports item failures from the first failed record when records before it completed', async () => {
    const { handler } = setup();
    const e = event(['cus_h000', 'cus_pois', 'cus_h001']);
    const seqs = e.Records.map((r) => r.kinesis.sequenceNumber);
    expect((await handler(e)).batchItemFailures).toEqual([
      { itemIdentifier: seqs[1] },
      { itemIdentifier: seqs[2] },
    ]);
  });

  it('fails the batch whole when its first record did not complete', async () => {
    const { handler } = setup();
    await expect(handler(event(['cus_pois', 'cus_h000']))).rejects.toThrow(
      /no record of the batch completed \(2 failed\): Error: ValidationException: refused/,
    );
  });
});
