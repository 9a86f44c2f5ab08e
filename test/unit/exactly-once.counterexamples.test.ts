/**
 * Counterexamples the exactly-once property (exactly-once.property.test.ts) shrank to, kept as
 * focused tests. Each fails on the processor before the fix named in its comment.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import { sideOutputKey } from '../../lambdas/core/batch-outputs.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import { type ProcessorDeps, processBatch } from '../../lambdas/core/process-batch.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import { contracts, featureGroupsByName, groupsFedBy } from '../../schemas/index.js';
import { faultyDeps, InjectedCrash } from '../support/fault-stores.js';
import { BASE_TIME, envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const iso = (t: number) => new Date(t).toISOString();
const merchant = featureGroupsByName.get('merchant');

describe('exactly-once counterexamples found by the property', () => {
  let entities: InMemoryEntityStore;
  let offline: InMemoryOfflineSink;
  let side: InMemorySideOutput;
  let deps: ProcessorDeps;
  beforeEach(() => {
    entities = new InMemoryEntityStore();
    offline = new InMemoryOfflineSink();
    side = new InMemorySideOutput();
    deps = { contracts, groupsFedBy, entities, offline, sideOutput: side, sleep: async () => {} };
  });
  /** Every record of `records` once, in consecutive batches of the given sizes (e.g. '2+1'). */
  const inBatches = async (sizes: string, records: readonly InputRecord[]) => {
    let i = 0;
    for (const size of sizes.split('+').map(Number)) {
      const result = await processBatch(records.slice(i, i + size), deps);
      i += size;
      expect(result.failed).toEqual([]);
      expect(result.counts.quarantined).toBe(0);
    }
  };
  const outcomesOf = () => [...side.entries.keys()].sort();

  // Recent event ids of the batch's own records were pruned when a newer event in the same batch
  // moved the horizon past them; a redelivery then found no decision ('forgotten') and wrote nothing.
  it('keeps the late decision of a record whose invocation crashed after its entity write', async () => {
    const records = inputRecords([
      envelope(transaction({ eventTime: iso(BASE_TIME) })),
      envelope(transaction({ eventTime: iso(BASE_TIME - 2 * HOUR) })), // late, and past the id horizon
    ]);
    await expect(processBatch(records, faultyDeps(deps, { crashAfterEntityWrites: 1 }))).rejects.toThrow(
      InjectedCrash,
    );

    const redelivered = await processBatch(records, deps);

    expect(redelivered.counts).toEqual({ applied: 1, duplicate: 0, quarantined: 0, late: 1 });
    expect(side.ofKind('late').map((e) => e.recordId)).toEqual([records[1]?.recordId]);
  });

  it('applies an event to its merchant and offline when the merchant write failed and a newer event came in the same batch', async () => {
    const older = transaction({ merchantId: 'mer_aaaa', eventTime: iso(BASE_TIME - 3 * HOUR) });
    const newer = transaction({ merchantId: 'mer_bbbb', eventTime: iso(BASE_TIME) });
    const records = inputRecords([envelope(older), envelope(newer)]);
    const failing = await processBatch(records, faultyDeps(deps, { failEntityWrites: [1] })); // merchant mer_aaaa
    expect(failing.failed).toHaveLength(2);

    expect((await processBatch(records, deps)).failed).toEqual([]);

    const tiles = entities.state('merchant', 'mer_aaaa')?.tiles ?? {};
    expect(evaluateWindows(merchant as never, tiles, BASE_TIME - 3 * HOUR).txn_count_1h).toBe(1);
    expect(offline.rows('customer').map((r) => r.eventId)).toContain(older.eventId);
    expect(offline.rows('merchant').map((r) => r.eventId)).toContain(older.eventId);
  });

  // Duplicate or late was decided by whether the original's id had been pruned yet (at the end of
  // some earlier batch), or by whether it was in the same batch, instead of by the ordered history.
  it.each(['1+1+1', '2+1', '1+2', '3'])(
    'decides a producer retry past the id horizon as late, in batches of %s records',
    async (sizes) => {
      const original = transaction({ eventTime: iso(BASE_TIME) });
      const records = inputRecords(
        [
          envelope(original),
          envelope(transaction({ eventTime: iso(BASE_TIME + 2 * HOUR) })),
          envelope(original), // the retry: 2 h behind the newest event, past lateness + margin
        ],
        { arrivalTime: BASE_TIME + 3 * HOUR },
      );
      await inBatches(sizes, records);

      expect(side.ofKind('duplicate')).toEqual([]);
      expect(side.ofKind('late').map((e) => [e.recordId, e.outcome])).toEqual([
        [records[2]?.recordId, 'late'],
      ]);
    },
  );

  it.each(['1+1+1', '2+1', '1+2', '3'])(
    'decides a producer retry within the id horizon as a duplicate, in batches of %s records',
    async (sizes) => {
      const original = transaction({ eventTime: iso(BASE_TIME) });
      const records = inputRecords(
        [
          envelope(original),
          envelope(transaction({ eventTime: iso(BASE_TIME + 65 * MINUTE) })),
          envelope(original), // 65 min behind: late, but its id is still remembered
        ],
        { arrivalTime: BASE_TIME + 3 * HOUR },
      );
      await inBatches(sizes, records);

      expect(side.ofKind('late')).toEqual([]);
      expect(side.ofKind('duplicate').map((e) => e.recordId)).toEqual([records[2]?.recordId]);
    },
  );

  it('gives a retry one outcome and changes nothing online when the stream is replayed in other batches', async () => {
    const original = transaction({ customerId: 'cus_0002' });
    const records = inputRecords([envelope(transaction()), envelope(original), envelope(original)]);
    await inBatches('3', records);
    const online = structuredClone([...entities.items]);
    const outcomes = outcomesOf();

    await inBatches('2+1', records);

    expect(outcomesOf()).toEqual(outcomes);
    expect([...entities.items]).toEqual(online);
  });

  // Offline objects were named after their first and last records only. A replay after a lost
  // checkpoint leaves out records whose ids were pruned ('forgotten'), and when the first and
  // last records were the same it overwrote the original object with fewer rows.
  it('keeps every offline row when a replay rewrites a batch after some of its ids were pruned', async () => {
    const records = inputRecords(
      [
        envelope(transaction({ customerId: 'cus_aaaa', eventTime: iso(BASE_TIME) })),
        envelope(transaction({ customerId: 'cus_bbbb', eventTime: iso(BASE_TIME) })),
        envelope(transaction({ customerId: 'cus_aaaa', eventTime: iso(BASE_TIME) })),
      ],
      { arrivalTime: BASE_TIME + 4 * HOUR },
    );
    const later = inputRecords(
      [envelope(transaction({ customerId: 'cus_bbbb', eventTime: iso(BASE_TIME + 3 * HOUR) }))],
      {
        firstSequence: FIRST_SEQUENCE + 1000n,
        arrivalTime: BASE_TIME + 4 * HOUR,
      },
    );
    await inBatches('3', records);
    await inBatches('1', later); // cus_bbbb forgets the id of its first event
    const rows = () => new Set(offline.rows('customer').map((r) => r.eventId));
    const before = rows();

    await inBatches('3', records); // the same range again, as after a lost checkpoint

    expect(rows()).toEqual(before);
    expect(before.size).toBe(4);
  });

  // A retry decided after its id was pruned took over the id's entry; a replay of the original
  // record then read it and called the original a duplicate of its own retry (two outcomes).
  it('gives an event and its retry past the horizon one outcome each when the stream is replayed', async () => {
    const old = transaction({ eventTime: iso(BASE_TIME - 59 * MINUTE) });
    const records = inputRecords(
      [
        envelope(transaction({ eventTime: iso(BASE_TIME) })),
        envelope(old), // within lateness: applied
        envelope(transaction({ eventTime: iso(BASE_TIME + 30 * MINUTE) })), // old's id is now forgotten
        envelope(old), // its retry: late
      ],
      { arrivalTime: BASE_TIME + HOUR },
    );
    await inBatches('1+1+1+1', records);
    const outcomes = outcomesOf();

    await inBatches('4', records);

    expect(outcomesOf()).toEqual(outcomes);
    expect(outcomes).toEqual([
      sideOutputKey({
        kind: 'late',
        recordId: records[3]?.recordId as string,
        arrivalTime: BASE_TIME + HOUR,
      }),
    ]);
  });
});
