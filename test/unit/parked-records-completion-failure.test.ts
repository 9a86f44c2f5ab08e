/**
 * A completion (completeParked / narrowParked) that fails marks its copy failed, and a parked record
 * later in the batch is redelivered with it. Found on review: the parked entries had been written
 * before the completions, so that record's entry stayed although it was redelivered; with the cause
 * gone by the redelivery the record was applied normally, and a redrive applied it to its group a
 * second time. Parked entries are now written after every other write. Since 2026-11-27 the entry of
 * a later record parked for a group is written all the same (given up with the batch, nothing else
 * would finish it), and the redelivery that applies the record takes the group off it.
 */
import { describe, expect, it } from 'vitest';
import { InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import type { PutResult } from '../../lambdas/core/ports.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { type FeatureGroup, featureGroupsByName } from '../../schemas/index.js';
import { BASE_TIME, envelope, inputRecords, transaction } from '../support/records.js';
import { parkedKeys, redriveCopy } from '../support/redrive-copies.js';
import { refusingDeps } from '../support/refusing-store.js';

const merchant = featureGroupsByName.get('merchant') as FeatureGroup;
const at = (s: number) => new Date(BASE_TIME + s * 1000).toISOString();
const pay = (i: number, customerId: string, merchantId: string) =>
  envelope(
    transaction({ customerId, merchantId, eventId: `evt_cf_${i}`, eventTime: at(i), amountMinor: 100 }),
  );

class FlakySideOutput extends InMemorySideOutput {
  failCompletions = 0;
  override async completeParked(
    c: Parameters<InMemorySideOutput['completeParked']>[0],
  ): Promise<PutResult[]> {
    if (this.failCompletions > 0) {
      this.failCompletions--;
      return c.map(() => ({ failed: new Error('S3 503 SlowDown') }));
    }
    return super.completeParked(c);
  }
}

function setup() {
  const { refuse, deps, sideOutput, count: countOf } = refusingDeps({ sideOutput: new FlakySideOutput() });
  const count = (id: string) => countOf(merchant, id);
  return { deps, refuse, sideOutput, count };
}

const wrap = (sideOutput: InMemorySideOutput, key: string, sequenceNumber: string): InputRecord =>
  redriveCopy(sideOutput, key, { sequenceNumber: BigInt(sequenceNumber), arrivalTime: BASE_TIME + 30_000 });

describe('a completion failing in a batch that parks a later record', () => {
  it('writes its entry, which the redelivery applying it removes: applied once, nothing left to redrive', async () => {
    const s = setup();
    // An earlier parked entry (r0 parked for its merchant), whose cause is then fixed.
    const [r0] = inputRecords([pay(0, 'cus_aaaa', 'mer_1111')]);
    s.refuse.add('merchant#mer_1111');
    await processBatch([r0] as InputRecord[], s.deps);
    const [k0] = parkedKeys(s.sideOutput);
    s.refuse.delete('merchant#mer_1111');

    // Batch: the redrive copy of r0 (first), then a new record P whose merchant is refused for good.
    const base = 49_700_000_000_000_000_000_000_000_000_000_000_000_000_000n;
    const x0 = wrap(s.sideOutput, k0 as string, String(base));
    const [p] = inputRecords([pay(1, 'cus_bbbb', 'mer_2222')], {
      firstSequence: base + 10n,
      arrivalTime: BASE_TIME + 30_000,
    });
    s.refuse.add('merchant#mer_2222');
    s.sideOutput.failCompletions = 1; // a transient S3 error on the move to parked-done/
    const d1 = await processBatch([x0, p] as InputRecord[], s.deps);
    // P is reported failed (redelivered). Its entry is written all the same (given up, nothing else
    // would finish it), and the redelivery that applies it takes its group off.
    expect(d1.failed).toContain((p as InputRecord).sequenceNumber);
    const pKey = parkedKeys(s.sideOutput).find((k) =>
      k.endsWith(`${(p as InputRecord).sequenceNumber}.json`),
    );
    expect(pKey).toBeDefined();

    // The cause goes away before the redelivery (a fix deployed; or, as the batch failed from its
    // first record, the mapping bisects it and mer_2222 fits with fewer records).
    s.refuse.clear();
    const d2 = await processBatch([x0, p] as InputRecord[], s.deps);
    expect(d2.failed).toEqual([]);
    expect(await s.count('mer_2222')).toBe(1); // P applied to its merchant, once
    expect(await s.count('mer_1111')).toBe(1); // r0 completed by its copy, once
    expect(parkedKeys(s.sideOutput)).toEqual([]); // nothing left for a redrive to apply again
  });
});
