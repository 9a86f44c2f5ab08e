/**
 * The processor handler behind the event source mapping, with the deployed settings
 * (STREAM_SOURCE_DEFAULTS: batch 500, bisect on error, ReportBatchItemFailures, retries until the
 * maximum record age) through the local mapping's retry policy (`runBatch`), over the in-memory
 * adapters.
 *
 * One entity's write keeps failing. If the failure is known to be permanent (an item DynamoDB
 * refuses), the records concerned are parked and nothing holds up the shard. If it is not (a hot key
 * throttled through every retry), the batch is retried: Lambda retries a partial response from the
 * first failed record and bisects only on a function error, so before 2026-11-26, when the handler
 * reported item failures for it, every later record of its batch, of any customer, went to the
 * on-failure destination with it after the retries (found on review). Now a batch that completes
 * nothing fails whole and is bisected, and only the failing record waits for its maximum age.
 */
import { describe, expect, it } from 'vitest';
import { OnlineStoreError } from '../../lambdas/adapters/errors.js';
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

function setup(failure: 'permanent' | 'throttled' = 'throttled') {
  const poison = { on: true };
  const inner = new InMemoryEntityStore();
  // merchant#mer_poison can never be written (DynamoDB refuses the item, or throttles it through every
  // retry); everything else works.
  const error = () =>
    failure === 'permanent'
      ? new OnlineStoreError('write of merchant#mer_poison failed: refused', 'online', { permanent: true })
      : new Error('ProvisionedThroughputExceededException: throttled');
  const entities: EntityStore = {
    load: (keys, o) => inner.load(keys, o),
    save: async (writes) => {
      const bad = (w: { key: { entityId: string } }) => poison.on && w.key.entityId === 'mer_poison';
      const saved = await inner.save(writes.filter((w) => !bad(w)));
      return writes.map((w) => (bad(w) ? { failed: error() } : (saved.shift() ?? 'saved')));
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

/** Each invocation takes a simulated 10 minutes, so a record reaches the maximum age (23 h) after about 140. */
async function runDeployedPolicy(
  handler: ReturnType<typeof createHandler>,
  records: ReturnType<typeof kinesisEvent>['Records'],
  options: { settings?: Partial<typeof STREAM_SOURCE_DEFAULTS>; onInvoke?: (minutes: number) => void } = {},
) {
  const givenUp: GivenUp[] = [];
  const succeeded: string[] = [];
  let clock = Date.now();
  let invocations = 0;
  await runBatch(records, {
    settings: { ...STREAM_SOURCE_DEFAULTS, ...options.settings },
    retryBackoffMs: 0,
    invoke: (batch) => {
      invocations++;
      clock += 10 * 60_000;
      options.onInvoke?.(invocations * 10);
      return invokeHandler(
        handler as Parameters<typeof invokeHandler>[0],
        batch,
        lambdaContext(identity, Date.now() + 60_000),
        60_000,
      );
    },
    succeeded: (done) => {
      succeeded.push(...done.map((r) => r.kinesis.sequenceNumber));
    },
    giveUp: async (g) => {
      givenUp.push(g);
    },
    sleep: async () => true,
    stopped: () => false,
    now: () => clock,
  });
  return { givenUp, succeeded, invocations };
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

  it('parks a record an entity refuses for good: nothing is given up, no retry, the rest completes', async () => {
    const { handler, sideOutput, inner } = setup('permanent');
    const { givenUp, succeeded, invocations } = await runDeployedPolicy(handler, records);
    expect(givenUp).toEqual([]);
    expect(invocations).toBe(1);
    expect(succeeded).toEqual(seqs);
    expect(sideOutput.ofKind('parked').map((e) => [e.recordId.split(':')[1], e.groups])).toEqual([
      [seqs[1], ['merchant']],
    ]);
    expect(inner.state('customer', 'cus_pois')?.maxEventTime).not.toBeNull();
  });

  it('retries a failure not known to be permanent until it passes: a six-hour outage of one entity loses nothing', async () => {
    const { handler, poison, inner } = setup('throttled');
    const { givenUp, succeeded, invocations } = await runDeployedPolicy(handler, records, {
      onInvoke: (minutes) => {
        if (minutes > 6 * 60) poison.on = false;
      },
    });
    expect(givenUp).toEqual([]);
    expect(invocations).toBeGreaterThan(36);
    expect(new Set(succeeded)).toEqual(new Set(seqs));
    expect(inner.state('merchant', 'mer_poison')?.maxEventTime).not.toBeNull();
  });

  it('with bounded retries (retryAttempts 5), bisect isolates the record that keeps failing', async () => {
    const { handler } = setup('throttled');
    const { givenUp, succeeded } = await runDeployedPolicy(handler, records, {
      settings: { retryAttempts: 5 },
    });
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
      /no record of the batch completed \(2 failed\): Error: ProvisionedThroughputExceededException: throttled/,
    );
  });
});
