import { beforeEach, describe, expect, it } from 'vitest';
import {
  InMemoryEventLedger,
  InMemoryOfflineSink,
  InMemoryOnlineStore,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import type { Failed, FeatureRecord, LatestWriteResult } from '../../lambdas/core/ports.js';
import { type ProcessorDeps, processBatch } from '../../lambdas/core/process-batch.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { BASE_TIME, envelope, inputRecords, transaction } from '../support/records.js';

describe('processBatch', () => {
  let online: InMemoryOnlineStore;
  let ledger: InMemoryEventLedger;
  let offline: InMemoryOfflineSink;
  let side: InMemorySideOutput;
  let deps: ProcessorDeps;
  beforeEach(() => {
    online = new InMemoryOnlineStore();
    ledger = new InMemoryEventLedger();
    offline = new InMemoryOfflineSink();
    side = new InMemorySideOutput();
    deps = { contracts, groupsFedBy, online, ledger, offline, sideOutput: side };
  });

  it('applies a valid event to every group it feeds, online and offline', async () => {
    const e = transaction({ customerId: 'cus_aaaa', merchantId: 'mer_bbbb', amountMinor: 4200 });
    const result = await processBatch(inputRecords([envelope(e)]), deps);

    expect(result.counts).toEqual({ applied: 1, duplicate: 0, quarantined: 0, late: 0 });
    expect(result.failed).toEqual([]);
    expect(online.items.get('customer#cus_aaaa')?.values.last_amount_minor).toBe(4200);
    expect(online.items.get('merchant#mer_bbbb')?.values.last_amount_minor).toBe(4200);
    expect(offline.rows('customer')).toHaveLength(1);
    expect(offline.rows('merchant')[0]?.eventId).toBe(e.eventId);
  });

  it('keeps the newer value when an older event arrives later', async () => {
    const newer = transaction({ amountMinor: 2, eventTime: new Date(BASE_TIME).toISOString() });
    const older = transaction({ amountMinor: 1, eventTime: new Date(BASE_TIME - 60_000).toISOString() });
    await processBatch(inputRecords([envelope(newer)]), deps);
    const result = await processBatch(inputRecords([envelope(older)], { firstSequence: 5n }), deps);

    expect(result.counts.applied).toBe(1);
    expect(online.items.get('customer#cus_0001')?.values.last_amount_minor).toBe(2);
    expect(offline.rows('customer').map((r) => r.values.last_amount_minor)).toEqual([2, 1]);
  });

  it('breaks equal event times by event id, whatever the arrival order', async () => {
    const at = new Date(BASE_TIME).toISOString();
    const a = transaction({ eventId: 'evt_aaaaaaaa', amountMinor: 1, eventTime: at });
    const b = transaction({ eventId: 'evt_bbbbbbbb', amountMinor: 2, eventTime: at });
    await processBatch(inputRecords([envelope(b), envelope(a)]), deps);
    expect(online.items.get('customer#cus_0001')?.eventId).toBe('evt_bbbbbbbb');
  });

  it('writes one online record per entity per batch', async () => {
    const writes: FeatureRecord[][] = [];
    const counting = {
      ...deps,
      online: {
        ...online,
        getLatest: online.getLatest.bind(online),
        putLatest: async (r: readonly FeatureRecord[]) => {
          writes.push([...r]);
          return online.putLatest(r);
        },
      },
    };
    const events = [1, 2, 3].map((i) =>
      transaction({ amountMinor: i, eventTime: new Date(BASE_TIME + i).toISOString() }),
    );
    await processBatch(inputRecords(events.map((e) => envelope(e))), counting);
    expect(writes[0]?.filter((w) => w.group === 'customer')).toHaveLength(1);
    expect(online.items.get('customer#cus_0001')?.values.last_amount_minor).toBe(3);
  });

  it('changes nothing when the same batch is delivered again', async () => {
    const records = inputRecords([
      envelope(transaction()),
      envelope(transaction({ customerId: 'cus_0002' })),
    ]);
    await processBatch(records, deps);
    const snapshot = structuredClone([...online.items.entries()]);
    const again = await processBatch(records, deps);

    expect(again.counts).toEqual({ applied: 2, duplicate: 0, quarantined: 0, late: 0 });
    expect([...online.items.entries()]).toEqual(snapshot);
    expect(offline.rows('customer')).toHaveLength(2);
    expect(ledger.claims.size).toBe(2);
  });

  it('counts a producer retry under a new sequence number as a duplicate', async () => {
    const e = transaction();
    await processBatch(inputRecords([envelope(e)]), deps);
    const retry = await processBatch(inputRecords([envelope(e)], { firstSequence: 900n }), deps);

    expect(retry.counts).toEqual({ applied: 0, duplicate: 1, quarantined: 0, late: 0 });
    expect(side.ofKind('duplicate')[0]?.reason).toMatch(
      /already carried by record shardId-000000000000:49600/,
    );
    expect(offline.rows('customer')).toHaveLength(1);
  });

  it('counts a repeated event id within one batch once', async () => {
    const e = transaction();
    const result = await processBatch(inputRecords([envelope(e), envelope(e)]), deps);
    expect(result.counts).toEqual({ applied: 1, duplicate: 1, quarantined: 0, late: 0 });
  });

  it.each([
    ['not JSON', '{"contract":', /not valid UTF-8 JSON/],
    ['no envelope', JSON.stringify(transaction()), /not an event envelope/],
    ['an unknown contract', envelope(transaction(), 'refund'), /unknown contract "refund"/],
    ['an unknown version', envelope(transaction(), 'transaction', 9), /has no version 9/],
    ['a bad currency', envelope(transaction({ currency: 'dirham' })), /currency: must be an ISO 4217 code/],
    ['a bad e-mail', envelope(transaction({ customerEmail: 'nope' })), /customerEmail: Invalid email/],
    [
      'an event time far in the future',
      envelope(transaction({ eventTime: '2027-01-01T00:00:00Z' })),
      /more than 5 minutes after/,
    ],
  ])(
    'quarantines a record with %s, with its reason and payload, and applies the rest',
    async (_, payload, reason) => {
      const good = transaction({ customerId: 'cus_good' });
      const records = inputRecords([payload, envelope(good)]);
      const result = await processBatch(records, deps);

      expect(result.counts).toEqual({ applied: 1, duplicate: 0, quarantined: 1, late: 0 });
      const [q] = side.ofKind('quarantine');
      expect(q?.reason).toMatch(reason);
      expect(q?.data).toBe(records[0]?.data);
      expect(online.items.has('customer#cus_good')).toBe(true);
    },
  );

  it('never puts a field value into a quarantine reason', async () => {
    await processBatch(inputRecords([envelope(transaction({ customerEmail: 'secret-person' }))]), deps);
    expect(side.ofKind('quarantine')[0]?.reason).not.toContain('secret-person');
  });

  it('sends an event beyond the allowed lateness to the late output instead of the stores', async () => {
    const late = transaction({ eventTime: new Date(BASE_TIME - 2 * 3_600_000).toISOString() });
    const result = await processBatch(inputRecords([envelope(late)]), deps);

    expect(result.counts).toEqual({ applied: 0, duplicate: 0, quarantined: 0, late: 1 });
    expect(side.ofKind('late')[0]?.groups).toEqual(['customer', 'merchant']);
    expect(online.items.size).toBe(0);
    expect(offline.objects.size).toBe(0);
    expect([...ledger.claims.values()][0]?.outcome).toBe('late');
  });

  it('reports the records of a failed write and completes the others', async () => {
    const failing = {
      getLatest: online.getLatest.bind(online),
      putLatest: async (rs: readonly FeatureRecord[]): Promise<LatestWriteResult[]> =>
        rs.map(
          (r): LatestWriteResult =>
            r.entityId === 'cus_bad1' ? ({ failed: new Error('throttled') } as Failed) : 'applied',
        ),
    };
    const records = inputRecords([
      envelope(transaction({ customerId: 'cus_good' })),
      envelope(transaction({ customerId: 'cus_bad1' })),
      envelope(transaction({ customerId: 'cus_also' })),
    ]);
    const result = await processBatch(records, { ...deps, online: failing });

    expect(result.failed).toEqual([records[1]?.sequenceNumber]);
    expect(result.outcomes.has(records[1]?.recordId as string)).toBe(false);
    expect(result.counts.applied).toBe(2);
    expect(result.errors[0]?.message).toBe('throttled');
  });
});
