import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DynamoDbEntityStore, encodeItem } from '../../lambdas/adapters/dynamodb-entity-store.js';
import { InMemoryEntityStore } from '../../lambdas/adapters/memory.js';
import { emptyState, secondKey } from '../../lambdas/core/entity-state.js';
import { idBucketExpiresAt, idsToMove } from '../../lambdas/core/id-buckets.js';
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

describe('id moves, billed as DynamoDB layout 3 (tl and dd deflated past one unit less 128 bytes)', () => {
  /** A version-4-shaped event id (what producers send): random hex, which deflates least. */
  const uuid = (i: number): string => {
    const hex = createHash('sha256').update(String(i)).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
  // One a second, so that what moves is exactly what the unit needs (a move takes whole seconds).
  const decisions = Array.from({ length: 120 }, (_, i): [string, RecentEvent] => [
    secondKey(uuid(i), T - 60_000 + i * 1000),
    { r: `${SHARD}:496000000000000000000000000000000000000${100 + i}`, t: T - 60_000 + i * 1000 },
  ]);
  const moved = (writeLayout: 2 | 3) => {
    const store = new DynamoDbEntityStore({ tableName: 'unused', writeLayout });
    const state = stateWith(decisions);
    idsToMove(customer, key, state, () => decisions, store, T);
    return { kept: Object.keys(state.recent).length, bytes: store.writeUnits.sizeOf(key, state) };
  };

  it('keeps more ids in the one unit the item costs anyway, and no more than fit', () => {
    const two = moved(2);
    const three = moved(3);
    // Deflated, an id takes about a third of its JSON bytes, but more as fewer are left.
    expect(three.kept).toBeGreaterThan(two.kept * 2);
    // The unit less the margin for the next events' tiles, with the move log. Sized once, from
    // the bytes the ids take among 120, the item was at 996 bytes: it is sized again after the move.
    expect(three.bytes).toBeLessThanOrEqual(1024 - 128);
    expect(three.bytes).toBeGreaterThan(1024 - 128 - 60);
  });

  it.each([2, 3] as const)(
    'in layout %s, moves whole seconds: a bucket is billed its whole size at every add, so none is split over two moves',
    (writeLayout) => {
      // Ten ids a second: the unit's overflow ends inside a second.
      const tenASecond = Array.from({ length: 150 }, (_, i): [string, RecentEvent] => [
        secondKey(uuid(1000 + i), T - 60_000 + i * 100),
        { r: `${SHARD}:496000000000000000000000000000000000000${100 + i}`, t: T - 60_000 + i * 100 },
      ]);
      const store = new DynamoDbEntityStore({ tableName: 'unused', writeLayout });
      const state = stateWith(tenASecond);
      const moves = idsToMove(customer, key, state, () => tenASecond, store, T);
      expect(moves.length).toBeGreaterThan(0);
      const movedSeconds = new Set(
        moves.flatMap((m) => Object.values(m.entries).map((e) => Math.floor(e.t / 1000))),
      );
      const keptSeconds = new Set(Object.values(state.recent).map((e) => Math.floor(e.t / 1000)));
      expect([...movedSeconds].filter((second) => keptSeconds.has(second))).toEqual([]);
      // Every moved second whole, in one move; the oldest moved, the item within its unit less the margin.
      for (const m of moves) expect(Object.keys(m.entries)).toHaveLength(10);
      expect(Math.max(...movedSeconds)).toBeLessThan(Math.min(...keptSeconds));
      expect(store.writeUnits.sizeOf(key, state)).toBeLessThanOrEqual(1024 - 128);
    },
  );
});

describe('id moves where layout 3 deflates the item', () => {
  const uuid = (i: number): string => {
    const hex = createHash('sha256').update(`id ${i}`).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
  const at = (i: number): [string, RecentEvent] => [
    secondKey(uuid(i), T + i * 100),
    { r: `${SHARD}:496000000000000000000000000000000000000${1000 + i}`, t: T + i * 100 },
  ];
  const plain = new DynamoDbEntityStore({ tableName: 'unused', writeLayout: 2 });
  const deflating = new DynamoDbEntityStore({ tableName: 'unused', writeLayout: 3 });
  const unitsOf = (bytes: number) => Math.ceil(bytes / 1024);

  it('deflates an item past the room ids are kept in, not only past the unit, so they stay', () => {
    // Items that fit one unit plain, but not the room the processor keeps ids in (the unit less
    // 128 bytes): deflated, they keep every id; plain, they would move some at every batch.
    let checked = 0;
    for (let n = 1; n < 40; n++) {
      const settled = Array.from({ length: n }, (_, i) => at(i));
      const size = plain.writeUnits.sizeOf(key, stateWith(settled));
      if (size <= 1024 - 128 || size > 1024) continue;
      checked++;
      const state = stateWith(settled);
      expect(idsToMove(customer, key, state, () => settled, deflating, T)).toEqual([]);
      expect(Object.keys(state.recent)).toHaveLength(n);
      const { item } = encodeItem({ key, state, expectedVersion: 1, expiresAt: 1 }, 3);
      expect(item.dd).toBeInstanceOf(Uint8Array);
    }
    expect(checked).toBeGreaterThan(0);
  });

  it.each([2, 3] as const)(
    'sizes what cannot move exactly in layout %i: near a unit boundary it moves no id the unit does not need',
    (layout) => {
      const store = layout === 3 ? deflating : plain;
      // An item whose batch's own ids (which never move) put it just past one unit deflated, with
      // the log a move would write, and a few settled ids that fit in the second unit it costs anyway:
      // none of them move. Across the boundary, the item costs what its fixed part needs and no more.
      let nearBoundary = 0;
      for (let own = 20; own < 90; own++) {
        const batch = Array.from({ length: own }, (_, i) => at(1000 + i));
        const settled = Array.from({ length: 8 }, (_, i) => at(i));
        const moveLog = { bx: idBucketExpiresAt(customer, T), ep: [{ w: T, m: at(7)[1].t }] };
        const fixedBytes = store.writeUnits.sizeOf(key, { ...stateWith(batch), ...moveLog });
        const wholeBytes = store.writeUnits.sizeOf(key, { ...stateWith([...settled, ...batch]), ...moveLog });
        const state = stateWith([...settled, ...batch]);
        idsToMove(customer, key, state, () => settled, store, T);
        const after = store.writeUnits.sizeOf(key, state);
        expect(unitsOf(after), `${own} ids of the batch`).toBe(Math.max(1, unitsOf(fixedBytes)));
        if (wholeBytes <= unitsOf(fixedBytes) * 1024 - 128) {
          if (fixedBytes > 1024) nearBoundary++;
          expect(Object.keys(state.recent), `${own} ids of the batch`).toHaveLength(own + 8);
        }
      }
      expect(nearBoundary).toBeGreaterThan(0);
    },
  );
});

describe('the move log', () => {
  const uuid = (i: number): string => createHash('sha256').update(`log ${i}`).digest('hex').slice(0, 32);
  const at = (i: number): [string, RecentEvent] => [
    secondKey(uuid(i), T + i * 100),
    { r: `${SHARD}:496000000000000000000000000000000000000${1000 + i}`, t: T + i * 100 },
  ];
  // Moved before, in the epoch still open: a move now would raise its `m`.
  const withLog = (entries: [string, RecentEvent][]): EntityState => ({
    ...stateWith(entries),
    bx: 1,
    ep: [{ w: T - 3_600_000, m: T - 86_400_000 }],
  });

  it.each([2, 3] as const)(
    'in layout %i: is written only with a move, naming the newest id moved; no move where the item fits without it',
    (layout) => {
      const store = new DynamoDbEntityStore({ tableName: 'unused', writeLayout: layout });
      const units = store.writeUnits;
      let kept = 0;
      let moved = 0;
      for (let own = 10; own < 100; own += 3)
        for (let n = 1; n < 24; n += 2) {
          const batch = Array.from({ length: own }, (_, i) => at(1000 + i));
          const settled = Array.from({ length: n }, (_, i) => at(i));
          const fixed = units.sizeOf(key, withLog(batch));
          const whole = units.sizeOf(key, withLog([...settled, ...batch]));
          const state = withLog([...settled, ...batch]);
          const ep = state.ep;
          const moves = idsToMove(customer, key, state, () => settled, store, T);
          const label = `${own} + ${n} ids`;
          if (whole <= Math.max(fixed, Math.ceil(fixed / 1024) * 1024 - 128)) {
            kept++;
            expect(moves, label).toEqual([]);
            // Neither the log nor the entries it had were touched.
            expect(state.bx, label).toBe(1);
            expect(state.ep, label).toBe(ep);
            expect(state.ep, label).toEqual([{ w: T - 3_600_000, m: T - 86_400_000 }]);
          } else if (moves.length > 0) {
            moved++;
            const times = moves.flatMap((m) => Object.values(m.entries).map((e) => e.t));
            expect(state.ep?.[0]?.m, label).toBe(Math.max(...times));
            expect(state.bx, label).toBeGreaterThan(1);
          }
        }
      expect(kept).toBeGreaterThan(10);
      expect(moved).toBeGreaterThan(10);
    },
  );
});
