/**
 * A redrive copy that does not complete its entry (a second copy of the same entry in the batch, or a
 * copy of an entry completed or gone), refused for good, is parked as any record is, with the bytes
 * it carries. Found on review: its entry held the redrive envelope, which a redrive wrapped again and
 * decode.ts quarantined ("a redrive envelope inside another"), so the entry could never be finished.
 */
import { describe, expect, it } from 'vitest';
import type { InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { BASE_TIME, envelope, inputRecords, transaction } from '../support/records.js';
import { redriver } from '../support/redrive-copies.js';
import { refusingDeps } from '../support/refusing-store.js';

const at = (s: number) => new Date(BASE_TIME + s * 1000).toISOString();

function setup() {
  const { deps, refuse, sideOutput } = refusingDeps();
  return { deps, refuse, sideOutput };
}

const redriveAt = redriver();
/** What npm run redrive sends for every entry now in parked/. */
const redrive = (s: InMemorySideOutput): InputRecord[] => redriveAt(s, BASE_TIME + 30_000);

const parkOne = async (s: ReturnType<typeof setup>) => {
  const [r0] = inputRecords([
    envelope(
      transaction({
        customerId: 'cus_bbbb',
        merchantId: 'mer_1111',
        eventId: 'evt_cr_0001',
        eventTime: at(0),
      }),
    ),
  ]);
  s.refuse.add('customer#cus_bbbb');
  const d0 = await processBatch([r0] as InputRecord[], s.deps);
  expect(d0.parked).toBe(1);
  expect(s.sideOutput.ofKind('parked')).toHaveLength(1);
  return r0 as InputRecord;
};

describe('a redrive copy that completes no entry, refused for good', () => {
  it('is parked with the record it carries: its own redrive applies it once, and nothing stays', async () => {
    const s = setup();
    const r0 = await parkOne(s);
    // The copy is made, then its entry goes (parked-done/ expired, say): the copy is decided as any
    // record is, by its authority, which refuses it again.
    const copies = redrive(s.sideOutput);
    s.sideOutput.entries.clear();
    const d1 = await processBatch(copies, s.deps);
    expect(d1.failed).toEqual([]);
    const parked = s.sideOutput.ofKind('parked');
    // The copy got an entry of its own, holding the record it carries (not the envelope).
    expect(parked).toHaveLength(1);
    expect(parked[0]?.recordId).toBe(copies[0]?.recordId);
    expect(Buffer.from(parked[0]?.data ?? '', 'base64').toString()).toBe(
      Buffer.from(r0.data, 'base64').toString(),
    );

    // The cause fixed, redrive: the record is applied once; nothing stays.
    s.refuse.clear();
    const d2 = await processBatch(redrive(s.sideOutput), s.deps);
    expect(d2.counts).toEqual({ applied: 1, duplicate: 0, quarantined: 0, late: 0 });
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
  });

  it('a second copy of the same entry in the batch is a duplicate of the first: no second entry', async () => {
    const s = setup();
    await parkOne(s);
    // npm run redrive run twice before the processor got to the first copies (documented as
    // harmless); the cause is not fixed yet: both copies land in one batch. The first is refused
    // again (its entry stays), the second is a duplicate of it.
    const copies = [...redrive(s.sideOutput), ...redrive(s.sideOutput)];
    const d1 = await processBatch(copies, s.deps);
    expect(d1.failed).toEqual([]);
    expect(d1.counts).toEqual({ applied: 0, duplicate: 2, quarantined: 0, late: 0 });
    const parked = s.sideOutput.ofKind('parked');
    expect(parked).toHaveLength(1);
    expect(parked[0]?.recordId).not.toBe(copies[1]?.recordId);

    // The cause fixed, redrive: the original completes and is applied; nothing stays.
    s.refuse.clear();
    const d2 = await processBatch(redrive(s.sideOutput), s.deps);
    expect(d2.counts).toEqual({ applied: 1, duplicate: 0, quarantined: 0, late: 0 });
    expect(s.sideOutput.ofKind('parked')).toEqual([]);
  });
});
