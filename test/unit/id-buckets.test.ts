import { describe, expect, it } from 'vitest';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import { InMemoryEntityStore } from '../../lambdas/adapters/memory.js';
import { emptyState, secondKey } from '../../lambdas/core/entity-state.js';
import { idsToMove } from '../../lambdas/core/id-buckets.js';
import type { EntityState, EntityStore, RecentEvent } from '../../lambdas/core/ports.js';
import { padSequence } from '../../lambdas/core/sequence.js';
import { featureGroupsByName } from '../../schemas/index.js';

const customer = featureGroupsByName.get('customer') as NonNullable<
  ReturnType<typeof featureGroupsByName.get>
>;
const T = Date.parse('2026-11-25T10:00:00.000Z');
const SHARD = 'shardId-000000000000';
const key = { group: 'customer', entityId: 'cus_0001' };
const decision = (i: number, lg?: string[]): [string, RecentEvent] => [
  secondKey(`evt_${i}`, T + i * 1000),
  { r: `${SHARD}:4960000000000000000000000000000000000000${i}`, t: T + i * 1000, ...(lg ? { lg } : {}) },
];
const stateWith = (entries: [string, RecentEvent][]): EntityState => ({
  ...emptyState(),
  maxEventTime: T + 60_000,
  checkpoints: { [SHARD]: padSequence('49600000000000000000000000000000000000000099') },
  recent: Object.fromEntries(entries),
});
// Billing only: neither store is called.
const stores: [string, EntityStore][] = [
  ['in memory', new InMemoryEntityStore()],
  ['DynamoDB, layout 1', new DynamoDbEntityStore({ tableName: 'unused', writeLayout: 1 })],
  ['DynamoDB, layout 2', new DynamoDbEntityStore({ tableName: 'unused', writeLayout: 2 })],
];

describe.each(stores)('id moves, billed as %s', (_, store) => {
  const units = store.writeUnits as NonNullable<EntityStore['writeUnits']>;

  it('sizes a decision as the store keeps it: exactly what it adds to the item', () => {
    // The item holds one of each kind already (a decision as the processor keeps it, and a legacy one).
    const held: [string, RecentEvent][] = [decision(1), ['evt_old', decision(0)[1]]];
    const more: [string, RecentEvent][] = [
      decision(2),
      decision(3, ['merchant']),
      ['evt_older', decision(4)[1]],
      [secondKey('evt_5', T), { r: 'not-a-record-id', t: T }],
    ];
    for (const [k, entry] of more) {
      const grown = units.sizeOf(key, stateWith([...held, [k, entry]])) - units.sizeOf(key, stateWith(held));
      expect(grown).toBe(units.entryBytes(k, entry, stateWith(held)));
    }
  });

  it('moves no id from an item that holds them all within the units it costs anyway', () => {
    const settled = [1, 2, 3, 4, 5].map((i) => decision(i));
    const state = stateWith(settled);
    expect(units.sizeOf(key, state)).toBeLessThan(units.unitBytes - 128);
    expect(idsToMove(customer, key, state, () => settled, { ...store, addIds: async () => [] }, T)).toEqual(
      [],
    );
    expect(Object.keys(state.recent)).toHaveLength(5);
  });
});
