/**
 * A record whose only write is a side output (late, duplicate, quarantined) and whose side-output
 * put fails until the event source mapping gives it up (the side-output bucket refusing for a day)
 * loses nothing: its redriven copy, 23 hours on, is decided as a producer retry of it (late again,
 * a duplicate again, quarantined again) and kept with its payload under that outcome, nothing
 * applied twice. (The copy comes from the on-failure bucket, or, if that refused too, from the
 * stream: `npm run redrive -- --from-stream`.)
 */
import { describe, expect, it } from 'vitest';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import type { PutResult, SideOutputEntry } from '../../lambdas/core/ports.js';
import { type ProcessorDeps, processBatch } from '../../lambdas/core/process-batch.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import { contracts, featureGroupsByName, groupsFedBy } from '../../schemas/index.js';
import { BASE_TIME, envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';

const iso = (t: number) => new Date(t).toISOString();
const HOUR = 3_600_000;

/** A side-output bucket that refuses every put while `refusing` holds. */
class RefusingSideOutput extends InMemorySideOutput {
  refusing = true;
  override async put(entries: readonly SideOutputEntry[]): Promise<PutResult[]> {
    if (this.refusing) return entries.map(() => ({ failed: new Error('AccessDenied: the key is disabled') }));
    return super.put(entries);
  }
}

describe('a record whose side-output put fails until it is given up', () => {
  it('is kept in late/ by its redriven copy, and nothing is applied twice', async () => {
    const entities = new InMemoryEntityStore();
    const side = new RefusingSideOutput();
    const deps: ProcessorDeps = {
      contracts,
      groupsFedBy,
      entities,
      offline: new InMemoryOfflineSink(),
      sideOutput: side,
      sleep: async () => {},
      now: () => BASE_TIME + 60_000,
    };
    const applied = transaction({ eventTime: iso(BASE_TIME) });
    const late = transaction({ eventTime: iso(BASE_TIME - 2 * HOUR) });
    const retry = { ...applied }; // a producer retry: the same event again
    const invalid = { ...transaction(), amountMinor: 'lots' };
    const first = await processBatch(inputRecords([envelope(applied)], { arrivalTime: BASE_TIME + 1000 }), {
      ...deps,
      sideOutput: new InMemorySideOutput(),
    });
    expect(first.counts.applied).toBe(1);

    // Late, a duplicate, invalid: each needs its side output, which fails, batch after batch, until
    // the mapping gives them up at 23 hours.
    const records = inputRecords([envelope(late), envelope(retry), envelope(invalid)], {
      firstSequence: FIRST_SEQUENCE + 1000n,
      arrivalTime: BASE_TIME + 2000,
    });
    const failing = await processBatch(records, deps);
    expect(failing.failed).toEqual(records.map((r) => r.sequenceNumber));
    expect(side.entries.size).toBe(0);

    // The redrive, once the bucket takes puts again: each record a producer retry of itself, sent 23
    // hours after it first arrived (a new sequence number, the same bytes).
    side.refusing = false;
    const redriveAt = BASE_TIME + 23 * HOUR + 10 * 60_000;
    const copies = inputRecords([envelope(late), envelope(retry), envelope(invalid)], {
      firstSequence: FIRST_SEQUENCE + 9000n,
      arrivalTime: redriveAt,
    });
    const redriven = await processBatch(copies, { ...deps, now: () => redriveAt });
    expect(redriven.failed).toEqual([]);
    // The late one is past the id horizon of its customer: late again. The retry of the applied event
    // is still a duplicate (its customer has taken nothing newer). Each is kept with its payload.
    expect(copies.map((c) => redriven.outcomes.get(c.recordId))).toEqual([
      'late',
      'duplicate',
      'quarantined',
    ]);
    for (const [i, kind] of (['late', 'duplicate', 'quarantine'] as const).entries()) {
      const kept = side.ofKind(kind);
      expect(kept.map((e) => e.recordId)).toEqual([copies[i]?.recordId]);
      expect(kept[0]?.data).toBe(copies[i]?.data);
    }
    // The applied event counts once, the late one never.
    const customer = featureGroupsByName.get('customer');
    expect(
      evaluateWindows(customer as never, entities.state('customer', 'cus_0001')?.tiles ?? {}, BASE_TIME),
    ).toMatchObject({ txn_count_24h: 1 });
  });
});
