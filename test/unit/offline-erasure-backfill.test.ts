import { describe, expect, it } from 'vitest';
import { decodeRecord } from '../../lambdas/core/decode.js';
import { replayContract, replayRecord, replaySequence } from '../../offline/backfill/replay.js';
import { idFingerprint, resolveErasureTarget, tileHolders } from '../../offline/erasure/target.js';
import { datasetName, parsePartitionKey, utcDatesBetween } from '../../offline/layout.js';
import { count, defineFeatureGroup, window } from '../../schemas/feature-group.js';
import { featureGroups } from '../../schemas/index.js';
import { transaction } from '../../schemas/transaction.contract.js';

describe('erasure target', () => {
  it('finds the customer online items, history and raw events, and the merchant history derived from them', () => {
    const t = resolveErasureTarget('customer:cus_0001');
    expect(t.entity).toBe('customer_id');
    expect(t.groups.map((g) => g.name)).toEqual(['customer']);
    expect(t.datasets.map((d) => [datasetName(d.dataset), d.column])).toEqual([
      ['features/customer', 'customer_id'],
      ['events/transaction', 'customer_id'],
    ]);
    expect(t.keyedContracts.map((c) => c.name)).toEqual(['transaction']);
    expect(t.derivedGroups.map((g) => g.name)).toEqual(['merchant']);
  });

  it('accepts the entity name as well as the group name', () => {
    expect(resolveErasureTarget('customer_id:cus_0001').groups.map((g) => g.name)).toEqual(['customer']);
  });

  it('refuses a merchant: customer tiles keep distinct merchant ids, which it would have to scan for', () => {
    expect(() => resolveErasureTarget('merchant:mer_0001')).toThrow(
      /groups customer keep distinct merchantId values in their tiles/,
    );
  });

  it.each([
    ['cus_0001', /takes <group or entity>:<id>/],
    ['account:acc_1', /no feature group or entity named "account"/],
    ['customer:bob', /fails the contract's customer_id rule/],
  ])('refuses %s', (spec, message) => {
    expect(() => resolveErasureTarget(spec)).toThrow(message);
  });

  it('finds no merchant tile that keeps customer ids today, and would refuse if a definition added one', () => {
    expect(tileHolders(transaction, 'customerId')).toEqual([]);
    const risky = defineFeatureGroup({
      name: 'merchant_reach',
      description: 'distinct customers per merchant',
      source: transaction,
      entity: { name: 'merchant_id', field: 'merchantId' },
      ttlMs: 86_400_000,
      allowedLatenessMs: 0,
      features: {
        customers: window('distinct', 'customerId', ['24h'], 'distinct customers'),
        txn: count(['1h'], 'transactions'),
      },
    });
    expect(tileHolders(transaction, 'customerId', [...featureGroups, risky])).toEqual([risky]);
    expect(() => resolveErasureTarget('customer:cus_0001', [...featureGroups, risky])).toThrow(
      /merchant_reach keep distinct customerId values in their tiles/,
    );
  });

  it('keeps a fingerprint of the id, never the id', () => {
    const f = idFingerprint({ entity: 'customer_id', id: 'cus_0001' });
    expect(f).toMatch(/^[0-9a-f]{64}$/);
    expect(f).not.toContain('cus_0001');
    expect(idFingerprint({ entity: 'customer_id', id: 'cus_0002' })).not.toBe(f);
  });
});

describe('replaying raw events', () => {
  const row = {
    event_id: 'evt_replay_0001',
    event_time: Date.parse('2026-08-10T10:00:00Z'),
    ingestion_time: Date.parse('2026-08-10T10:00:02Z'),
    contract_version: 1,
    customer_id: 'cus_0001',
    merchant_id: 'mer_0001',
    amount_minor: 1250n,
    currency: 'AED',
    country: 'AE',
    channel: 'pos',
    customer_email: 'tok_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    mcc: null,
    card_present: true,
  };

  it('decodes a stored row, with its token and its contract version, under the replay contract', () => {
    const record = replayRecord(transaction, 'backfill-t', row);
    const decoded = decodeRecord(record, new Map([['transaction', replayContract(transaction)]]));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.event.contractVersion).toBe(1);
    expect(decoded.event.fields.customerEmail).toBe(row.customer_email);
    expect(decoded.event.fields.amountMinor).toBe(1250);
    expect(decoded.event.fields).not.toHaveProperty('mcc');
    expect(record.arrivalTime).toBe(row.ingestion_time);
    expect(record.partitionKey).toBe('cus_0001');
  });

  it('rejects the same row under the producer contract (a token is not an e-mail)', () => {
    expect(
      decodeRecord(replayRecord(transaction, 'backfill-t', row), new Map([['transaction', transaction]])).ok,
    ).toBe(false);
  });

  it('numbers records by event time, then event id hash, the same on every run', () => {
    const a = replaySequence(1_000, 'evt_a');
    expect(replaySequence(1_000, 'evt_a')).toBe(a);
    expect(a).toMatch(/^\d{35}$/);
    expect(replaySequence(999, 'evt_zzz') < a).toBe(true);
    expect(replaySequence(1_001, 'evt_0') > a).toBe(true);
  });
});

describe('offline layout', () => {
  it.each([
    [
      'features/group=customer/dt=2026-11-25/shardId-1-2-3.parquet',
      { prefix: 'features/group=customer/', dt: '2026-11-25' },
    ],
    [
      'events/contract=transaction/dt=2026-11-25/x.parquet',
      { prefix: 'events/contract=transaction/', dt: '2026-11-25' },
    ],
    ['audit/erasure/2026-11-25/x.json', undefined],
    ['features/group=customer/dt=bad/x.parquet', undefined],
  ])('reads the partition of %s', (key, expected) => {
    expect(parsePartitionKey(key)).toEqual(expected);
  });

  it('lists the UTC dates between two times, both ends included', () => {
    expect(utcDatesBetween(Date.parse('2026-02-27T23:00:00Z'), Date.parse('2026-03-01T00:00:00Z'))).toEqual([
      '2026-02-27',
      '2026-02-28',
      '2026-03-01',
    ]);
  });
});
