import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeItem, encodeItem } from '../../lambdas/adapters/dynamodb-entity-store.js';
import {
  decodeBucketChunk,
  decodeBucketEntry,
  decodeIds,
  decodeTiles,
  encodeBucketChunk,
  encodeBucketEntry,
  encodeIds,
  encodeTiles,
  ITEM_LAYOUTS,
  type ItemLayout,
  packAttribute,
  storedIdBytes,
  unpackAttribute,
} from '../../lambdas/adapters/entity-item-codec.js';
import { applyEvent, emptyState, pruneState, retryKey, secondKey } from '../../lambdas/core/entity-state.js';
import type { EntityState, RecentEvent } from '../../lambdas/core/ports.js';
import { padSequence } from '../../lambdas/core/sequence.js';
import type { FieldPartial, Tile, TileSet } from '../../lambdas/core/tiles.js';
import { customer } from '../../schemas/customer.features.js';
import { transaction } from '../../schemas/transaction.contract.js';
import { kinesisSequence } from '../support/records.js';

const T = Date.parse('2026-11-25T10:00:00.000Z');
const SHARD = 'shardId-000000000000';
const SEQ = '49600000000000000000000000000000000000000230';

/** Producer ids, odd ones included: names of inherited properties, separators of the layout. */
const idArb = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'evt_1', 'a:b', 'x@y', '0', ''),
  fc.stringMatching(/^[A-Za-z0-9_.:-]{1,24}$/),
);
const sequenceArb = fc.bigInt({ min: 1n, max: 10n ** 60n }).map(String);
const shardArb = fc.constantFrom(SHARD, 'shardId-000000000001', 'shardId-000000000002', 's', '__proto__');
const timeArb = fc.integer({ min: T - 8 * 86_400_000, max: T + 60_000 });
const entryArb: fc.Arbitrary<RecentEvent> = fc.record(
  {
    r: fc.oneof(
      { weight: 4, arbitrary: fc.tuple(shardArb, sequenceArb).map(([s, q]) => `${s}:${q}`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'r1',
          'no-colon',
          'shard:12x',
          ':5',
          'a:b:7',
          `${SHARD}:007`,
          `${SHARD}:0`,
        ),
      },
    ),
    t: timeArb,
    lg: fc.array(fc.constantFrom('customer', 'merchant'), { maxLength: 2 }),
  },
  { requiredKeys: ['r', 't'] },
);
/** A decision under its key as the processor writes it (id or retry key, qualified by its second) or a legacy one. */
const recentArb = fc
  .array(fc.tuple(idArb, entryArb, fc.constantFrom('qualified', 'retry', 'legacy', 'other second')), {
    maxLength: 12,
  })
  .map((list) => {
    const recent: Record<string, RecentEvent> = {};
    for (const [id, entry, kind] of list) {
      const key =
        kind === 'qualified'
          ? secondKey(id, entry.t)
          : kind === 'retry'
            ? secondKey(retryKey(id, entry.r), entry.t)
            : kind === 'legacy'
              ? id
              : secondKey(id, entry.t + 1000);
      Object.defineProperty(recent, key, {
        value: entry,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return recent;
  });
const checkpointsArb = fc.array(fc.tuple(shardArb, sequenceArb), { maxLength: 3 }).map((list) => {
  const out: Record<string, string> = {};
  for (const [s, q] of list)
    Object.defineProperty(out, s, {
      value: padSequence(q),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
});

const scalarArb = fc.oneof(fc.integer({ min: -1e9, max: 1e9 }), fc.string({ maxLength: 8 }));
const partialArb: fc.Arbitrary<FieldPartial> = fc.record(
  {
    c: fc.integer({ min: 0, max: 5 }),
    s: fc.integer({ min: -1e9, max: 1e9 }),
    mn: scalarArb,
    mx: scalarArb,
    lt: timeArb,
    li: idArb,
    lv: fc.oneof(scalarArb, fc.boolean(), fc.constant(null)),
    d: fc.array(scalarArb, { maxLength: 4 }),
  },
  { requiredKeys: ['c'] },
);
const tileSizes = [60_000, 300_000, 3_600_000, 86_400_000];
const tilesArb: fc.Arbitrary<TileSet> = fc
  .array(
    fc.tuple(
      fc.constantFrom(...tileSizes),
      fc.array(
        fc.record({
          index: fc.integer({ min: 0, max: 4 }),
          // A start off the tile grid (never written) is kept as it is.
          offGrid: fc.boolean(),
          n: fc.integer({ min: 1, max: 5 }),
          f: fc.dictionary(fc.constantFrom('amountMinor', 'merchantId', 'channel', '__proto__'), partialArb, {
            maxKeys: 3,
          }),
        }),
        { maxLength: 3 },
      ),
    ),
    { maxLength: 4 },
  )
  .map((sizes) => {
    const tiles: TileSet = {};
    for (const [ms, list] of sizes)
      tiles[String(ms)] = list.map(
        ({ index, offGrid, n, f }): Tile => ({
          t: Math.floor(T / ms) * ms + index * ms + (offGrid ? 7 : 0),
          n,
          // Half the partials counted every event of their tile (the usual case, stored without `c`).
          f: Object.fromEntries(Object.entries(f).map(([k, p], i) => [k, { ...p, c: i % 2 ? p.c : n }])),
        }),
      );
    return tiles;
  });

/** Records by shard and padded sequence number (`holeKey`), to a wall time: holes, applied copies. */
const positionsArb = fc.dictionary(
  fc
    .tuple(
      fc.constantFrom('shardId-000000000000', 'shardId-000000000003'),
      fc.bigInt({ min: 0n, max: 10n ** 50n }),
    )
    .map(([shard, n]) => `${shard} ${String(n).padStart(129, '0')}`),
  timeArb,
  { minKeys: 1, maxKeys: 3 },
);

const stateArb: fc.Arbitrary<EntityState> = fc.record({
  maxEventTime: fc.option(timeArb, { nil: null }),
  latest: fc.constant(null),
  tiles: tilesArb,
  checkpoints: checkpointsArb,
  recent: recentArb,
  floor: fc.option(timeArb, { nil: undefined }),
  ep: fc.option(fc.array(fc.record({ w: timeArb, m: timeArb }), { minLength: 1, maxLength: 3 }), {
    nil: undefined,
  }),
  bx: fc.option(fc.integer({ min: 1_700_000_000, max: 2_000_000_000 }), { nil: undefined }),
  holes: fc.option(positionsArb, { nil: undefined }),
  copies: fc.option(positionsArb, { nil: undefined }),
});

/** Through the item the DynamoDB adapter writes and reads (layout 3 deflates a big one's tl and dd). */
const roundTrip = (s: EntityState, layout: ItemLayout): EntityState =>
  decodeItem(
    encodeItem(
      {
        key: { group: 'customer', entityId: 'cus_1' },
        state: { ...s, latest: null },
        expectedVersion: 0,
        expiresAt: 0,
      },
      layout,
    ).item,
  ).state;
/** The state without undefined members (what a store can keep of it). */
const defined = (s: EntityState): EntityState =>
  Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as unknown as EntityState;
/** Own entries with their keys, `__proto__` included (toEqual compares objects by own enumerable keys). */
const entries = (o: object) => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1));

describe('entity item layout (DynamoDB tl and dd)', () => {
  it.each(ITEM_LAYOUTS)(
    'gives back exactly the state it was given, for any tiles, checkpoints and decisions (layout %i)',
    (layout) => {
      fc.assert(
        fc.property(stateArb, (state) => {
          const back = roundTrip(state, layout);
          expect(back).toEqual(defined(state));
          expect(entries(back.recent)).toEqual(entries(state.recent));
          expect(entries(back.checkpoints)).toEqual(entries(state.checkpoints));
          for (const [size, list] of Object.entries(state.tiles))
            list.forEach((tile, i) => {
              expect(entries((back.tiles[size] as Tile[])[i]?.f ?? {})).toEqual(entries(tile.f));
            });
        }),
        { numRuns: 500 },
      );
    },
  );

  it('deflates tl and dd in layout 3 where the item passes one write unit less 128 bytes, and only there', () => {
    const uuid = (i: number) => {
      const hex = createHash('sha256').update(String(i)).digest('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    };
    const state = (ids: number): EntityState => ({
      ...emptyState(),
      maxEventTime: T,
      checkpoints: { [SHARD]: padSequence(SEQ) },
      recent: Object.fromEntries(
        Array.from({ length: ids }, (_, i) => [
          secondKey(uuid(i), T - i * 1000),
          { r: `${SHARD}:${BigInt(SEQ) - BigInt(i)}`, t: T - i * 1000 },
        ]),
      ),
    });
    const item = (s: EntityState, layout: ItemLayout) =>
      encodeItem(
        { key: { group: 'customer', entityId: 'cus_1' }, state: s, expectedVersion: 4, expiresAt: 9 },
        layout,
      ).item;
    const big = state(40);
    const [two, three] = [item(big, 2), item(big, 3)];
    expect([three.tl, three.dd].map((v) => v instanceof Uint8Array)).toEqual([true, true]);
    // The same JSON, deflated: 40 UUID ids in about half the bytes.
    expect([unpackAttribute(three.tl), unpackAttribute(three.dd)]).toEqual([two.tl, two.dd]);
    expect((three.dd as Uint8Array).byteLength).toBeLessThan(Buffer.byteLength(two.dd as string) * 0.6);
    expect(decodeItem(three).state).toEqual(decodeItem(two).state);
    expect(decodeItem(three).state.recent).toEqual(big.recent);
    // An item within one unit costs one unit either way: layout 3 writes it as layout 2 does.
    const small = state(3);
    expect(item(small, 3)).toEqual(item(small, 2));
  });

  it('leaves JSON that would not shrink as it is, and reads either form', () => {
    expect(packAttribute('{}')).toBe('{}');
    const json = JSON.stringify({ z: { 60000: Array.from({ length: 50 }, (_, i) => [i, 1]) } });
    const packed = packAttribute(json);
    expect(packed).toBeInstanceOf(Uint8Array);
    expect(unpackAttribute(packed)).toBe(json);
    expect(unpackAttribute(json)).toBe(json);
    expect(unpackAttribute(undefined)).toBeUndefined();
  });

  it('reads the plain layout of items written before it', () => {
    const recent = { evt_1: { r: `${SHARD}:1`, t: T, lg: ['merchant'] } };
    const tiles = { '60000': [{ t: T, n: 2, f: { amountMinor: { c: 2, s: 30 } } }] };
    expect(decodeTiles(JSON.stringify({ maxEventTime: T, tiles }))).toEqual({ maxEventTime: T, tiles });
    expect(decodeTiles(JSON.stringify({ maxEventTime: null, tiles: {} }))).toEqual({
      maxEventTime: null,
      tiles: {},
    });
    const plain = { checkpoints: { [SHARD]: padSequence(SEQ) }, recent, floor: T, ep: [{ w: T, m: T }] };
    expect(decodeIds(JSON.stringify(plain), T)).toEqual(plain);
    expect(decodeIds(undefined, null)).toEqual({ checkpoints: {}, recent: {} });
    // Ids as items held them before 2026-11-27: event time and sequence number in full, in `i`.
    const held = { s: [SHARD], c: [SEQ], i: [['evt_1', T + 123, 0, SEQ, ['merchant']]] };
    expect(decodeIds(JSON.stringify(held), T + 5_000)).toEqual({
      checkpoints: { [SHARD]: padSequence(SEQ) },
      recent: { [secondKey('evt_1', T + 123)]: { r: `${SHARD}:${SEQ}`, t: T + 123, lg: ['merchant'] } },
    });
  });

  it('stores a checkpoint and a decision without what can be rebuilt: padding, key second, shard', () => {
    const state: EntityState = {
      maxEventTime: T,
      latest: null,
      tiles: {},
      checkpoints: { [SHARD]: padSequence(SEQ) },
      recent: { [secondKey('evt_1', T + 123)]: { r: `${SHARD}:${SEQ}`, t: T + 123 } },
    };
    // The shard by its number, its checkpoint in base 36.
    expect(JSON.parse(encodeIds(state, 2))).toEqual({
      s: [0],
      k: [BigInt(SEQ).toString(36)],
      j: [['evt_1', -123, 0, '-0']],
    });
    // Layout 1, exactly as releases until 87a24e2 wrote it: shard ids, decimal checkpoints, ids in full.
    expect(JSON.parse(encodeIds(state, 1))).toEqual({
      s: [SHARD],
      c: [SEQ],
      i: [['evt_1', T + 123, 0, SEQ]],
    });
    const decision = { r: `${SHARD}:${SEQ}`, t: T + 123, lg: ['merchant'] };
    expect(encodeBucketEntry(decision, T, 1)).toBe(JSON.stringify(decision));
    // Under 60% of the bytes of the plain layout of the same.
    const plain = JSON.stringify({ checkpoints: state.checkpoints, recent: state.recent });
    expect(encodeIds(state, 2).length).toBeLessThan(plain.length * 0.6);
  });

  it('stores an id of a Kinesis record an hour old in about 60 bytes: its age and its distance below the checkpoint', () => {
    // Kinesis sequence numbers as the service makes them: 56 digits, the shard's record counter in the middle.
    const now = kinesisSequence(0, 3_600_000, T);
    const hourAgo = kinesisSequence(0, 1, T - 3_600_000);
    expect([now.length, hourAgo.length]).toEqual([56, 56]);
    const state: EntityState = {
      maxEventTime: T,
      latest: null,
      tiles: {},
      checkpoints: { [SHARD]: padSequence(now) },
      recent: {},
    };
    const key = secondKey('e3b0c442-98fc-4c14-9afb-f4c8996fb924', T - 3_600_000);
    const entry = { r: `${SHARD}:${hourAgo}`, t: T - 3_600_000 };
    const bytes = storedIdBytes(key, entry, state, 2);
    expect(bytes).toBeLessThan(80);
    // In full, as items held ids before: over 110 bytes.
    expect(
      JSON.stringify(['e3b0c442-98fc-4c14-9afb-f4c8996fb924', entry.t, 0, hourAgo]).length + 1,
    ).toBeGreaterThan(110);
    const back = decodeIds(encodeIds({ ...state, recent: { [key]: entry } }, 2), T);
    expect(back.recent).toEqual({ [key]: entry });
  });

  it('gives back exactly the decision an id bucket was given, and reads those buckets held before', () => {
    fc.assert(
      fc.property(
        entryArb,
        fc.integer({ min: -1500, max: 1500 }),
        fc.constantFrom(...ITEM_LAYOUTS),
        (entry, shift, layout) => {
          // Its bucket's second, or (never written so) another one.
          const start = Math.floor(entry.t / 1000) * 1000 + (shift > 1000 || shift < -1000 ? shift : 0);
          const back = decodeBucketEntry(encodeBucketEntry(entry, start, layout), start);
          expect(back).toEqual(entry);
        },
      ),
      { numRuns: 1000 },
    );
    const entry = { r: `${SHARD}:${SEQ}`, t: T + 123, lg: ['merchant'] };
    expect(decodeBucketEntry(JSON.stringify(entry), T)).toEqual(entry);
    const compact = encodeBucketEntry(entry, T, 2);
    expect(JSON.parse(compact)).toEqual([123, 0, BigInt(SEQ).toString(36), ['merchant']]);
    expect(compact.length).toBeLessThan(JSON.stringify(entry).length * 0.6);
  });

  it('gives back exactly the decisions a layout-4 bucket chunk was given, under a name only they make', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(idArb, entryArb), { maxLength: 12 }),
        fc.integer({ min: -1500, max: 1500 }),
        (pairs, shift) => {
          const entries: Record<string, RecentEvent> = {};
          for (const [id, entry] of pairs)
            Object.defineProperty(entries, id, {
              value: entry,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          const start = Math.floor((pairs[0]?.[1].t ?? T) / 1000) * 1000 + shift;
          const chunk = encodeBucketChunk(entries, start);
          const back = decodeBucketChunk(chunk.value, start);
          expect(back).toEqual(Object.entries(entries));
          // The same decisions, the same attribute (adding them again is harmless); others, another.
          expect(encodeBucketChunk(structuredClone(entries), start).digest).toBe(chunk.digest);
          if (pairs.length > 0)
            expect(encodeBucketChunk({ ...entries, 'evt-other': { r: 'r1', t: T } }, start).digest).not.toBe(
              chunk.digest,
            );
        },
      ),
      { numRuns: 500 },
    );
  });

  it("keeps a second of a busy customer's decisions in a chunk of under half the bytes of an attribute per id", () => {
    // 100 UUID event ids in one second, their records consecutive in one shard.
    const entries: Record<string, RecentEvent> = {};
    for (let i = 0; i < 100; i++) {
      const hex = createHash('sha256').update(`busy-${i}`).digest('hex');
      const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
      entries[id] = { r: `${SHARD}:${kinesisSequence(0, 5_000 + i * 3, T + i * 10)}`, t: T + i * 10 };
    }
    const perId = Object.entries(entries).reduce(
      (bytes, [id, entry]) => bytes + `i:${id}`.length + encodeBucketEntry(entry, T, 3).length,
      0,
    );
    const chunk = encodeBucketChunk(entries, T);
    // About 39 bytes an id instead of 84: a UUID is random hex, and the sequence numbers share only
    // their leading digits in base 36.
    expect(chunk.value.byteLength + 'c:'.length + chunk.digest.length).toBeLessThan(perId / 2);
  });

  it('stores tile starts by index, fields by their index in a table, and leaves out counts equal to the tile count', () => {
    const start = 29_926_680 * 60_000;
    const tiles: TileSet = {
      '60000': [
        {
          t: start,
          n: 3,
          f: { amountMinor: { c: 3, s: 30 }, channel: { c: 2, lt: start + 1_234, li: 'evt_9', lv: 'pos' } },
        },
        { t: 29_926_681 * 60_000, n: 1, f: {} },
      ],
      '3600000': [
        {
          t: 498_778 * 3_600_000,
          n: 3,
          f: {
            amountMinor: { c: 3, s: 30, mn: 5, mx: 20 },
            merchantId: { c: 3, d: ['mer_0001', 'mer_0002', 7] },
          },
        },
      ],
      '86400000': [{ t: 20_782 * 86_400_000, n: 3, f: { merchantId: { c: 3, d: [7, 'mer_0002'] } } }],
    };
    expect(JSON.parse(encodeTiles({ maxEventTime: T, tiles }, 2))).toEqual({
      m: T,
      n: ['amountMinor', 'channel', 'merchantId'],
      // Each distinct value once, referred to by its index (7 and '7' would be two).
      v: ['mer_0001', 'mer_0002', 7],
      z: {
        '60000': [
          // The time of a tile's last value from the tile's start.
          [29_926_680, 3, { 0: { s: 30 }, 1: { c: 2, lt: 1_234, li: 'evt_9', lv: 'pos' } }],
          [29_926_681, 1],
        ],
        '3600000': [[498_778, 3, { 0: { s: 30, mn: 5, mx: 20 }, 2: { d: [0, 1, 2] } }]],
        '86400000': [[20_782, 3, { 2: { d: [2, 1] } }]],
      },
    });
    expect(decodeTiles(encodeTiles({ maxEventTime: T, tiles }, 2))).toEqual({ maxEventTime: T, tiles });
    // Layout 1, exactly as releases until 87a24e2 wrote it (and releases from 704c214 read it):
    // partials by name, times and values in full.
    expect(JSON.parse(encodeTiles({ maxEventTime: T, tiles }, 1))).toEqual({
      m: T,
      z: {
        '60000': [
          [
            29_926_680,
            3,
            { amountMinor: { s: 30 }, channel: { c: 2, lt: start + 1_234, li: 'evt_9', lv: 'pos' } },
          ],
          [29_926_681, 1],
        ],
        '3600000': [
          [
            498_778,
            3,
            { amountMinor: { s: 30, mn: 5, mx: 20 }, merchantId: { d: ['mer_0001', 'mer_0002', 7] } },
          ],
        ],
        '86400000': [[20_782, 3, { merchantId: { d: [7, 'mer_0002'] } }]],
      },
    });
  });

  it('keeps the tiles of a customer a week old in about two thirds of the bytes of names and values in every tile', () => {
    // One payment an hour over 40 merchants, for a week: 37 tiles (5-minute, hourly and daily).
    const state = emptyState();
    for (let i = 0; i < 7 * 24; i++) {
      const t = T + i * 3_600_000;
      applyEvent(state, customer, {
        recordId: `${SHARD}:${i}`,
        shardId: SHARD,
        paddedSequence: padSequence(String(i)),
        arrivalTime: t,
        event: {
          contract: transaction,
          contractVersion: 2,
          eventId: `e3b0c442-98fc-4c14-9afb-${String(i).padStart(12, '0')}`,
          eventTime: t,
          fields: {
            customerId: 'cus_00001',
            amountMinor: 1_000 + i,
            currency: 'AED',
            country: 'AE',
            channel: ['pos', 'ecommerce', 'atm', 'wallet'][i % 4],
            merchantId: `mer_${String(i % 40).padStart(4, '0')}`,
            cardPresent: true,
          },
        },
      });
      pruneState(state, customer);
    }
    const json = encodeTiles(state, 2);
    expect(decodeTiles(json)).toEqual({ maxEventTime: state.maxEventTime, tiles: state.tiles });
    // Names and values in every tile, as items held tiles before the tables: 5,005 bytes.
    expect(json.length).toBeLessThan(3_300);
  });

  it('reads tiles as items held them before the field table (names in every partial, times in full)', () => {
    const start = 29_926_680 * 60_000;
    const held = {
      m: T,
      z: {
        '60000': [[29_926_680, 3, { amountMinor: { s: 30 }, channel: { c: 2, lt: start + 5, lv: 'pos' } }]],
      },
    };
    expect(decodeTiles(JSON.stringify(held))).toEqual({
      maxEventTime: T,
      tiles: {
        '60000': [
          {
            t: start,
            n: 3,
            f: { amountMinor: { c: 3, s: 30 }, channel: { c: 2, lt: start + 5, lv: 'pos' } },
          },
        ],
      },
    });
  });
});
