import { createHash } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDbEntityStore } from '../../lambdas/adapters/dynamodb-entity-store.js';
import {
  decodeBucketChunk,
  ITEM_LAYOUTS,
  type ItemLayout,
} from '../../lambdas/adapters/entity-item-codec.js';
import { InMemoryEntityStore } from '../../lambdas/adapters/memory.js';
import { emptyState, secondKey } from '../../lambdas/core/entity-state.js';
import type { EntityState, EntityStore } from '../../lambdas/core/ports.js';
import { provisionTestResources } from '../support/aws-resources.js';
import { BASE_TIME } from '../support/records.js';

const state = (amount: number | null, eventId = 'evt_1'): EntityState => ({
  ...emptyState(),
  maxEventTime: BASE_TIME,
  latest: {
    eventTime: BASE_TIME,
    eventId,
    ingestionTime: BASE_TIME + 5,
    contractVersion: 1,
    values: { last_amount_minor: amount, last_currency: 'AED' },
  },
  tiles: {
    '60000': [{ t: BASE_TIME, n: 2, f: { amountMinor: { c: 2, s: 30, mn: 10, mx: 20, d: ['a', 'b'] } } }],
  },
  checkpoints: { 'shardId-000000000000': '0'.repeat(100) + '1'.repeat(29) },
  // One decision as the processor keeps it (its id qualified by its second) and one from before that.
  recent: {
    [secondKey('evt_2', BASE_TIME + 1)]: { r: 'shardId-000000000000:2', t: BASE_TIME + 1 },
    evt_1: { r: 'shardId-000000000000:1', t: BASE_TIME, lg: ['merchant'] },
  },
});
// In the future: DynamoDB Local really deletes expired items, as DynamoDB does.
const expiresAt = () => Math.ceil(Date.now() / 1000) + 3600;
const key = (entityId: string) => ({ group: 'customer', entityId });

// The same contract, run against every implementation of the port.
const implementations: [string, () => Promise<EntityStore>][] = [
  ['in memory', async () => new InMemoryEntityStore()],
  ...ITEM_LAYOUTS.map((writeLayout): [string, () => Promise<EntityStore>] => [
    `DynamoDB, writing layout ${writeLayout}`,
    async () => {
      const { names, dynamodb } = await provisionTestResources(inject('standIns'));
      return new DynamoDbEntityStore({ tableName: names.onlineTable, client: dynamodb, writeLayout });
    },
  ]),
];

describe.each(implementations)('EntityStore contract: %s', (_, create) => {
  let store: EntityStore;
  beforeAll(async () => {
    store = await create();
  });

  it('stores a new entity and reads back the same state with version 1', async () => {
    expect(
      await store.save([
        { key: key('cus_a001'), state: state(10), expectedVersion: 0, expiresAt: expiresAt() },
      ]),
    ).toEqual(['saved']);
    const [got] = await store.load([key('cus_a001')]);
    expect(got).toEqual({ state: state(10), version: 1 });
  });

  it('adds decisions to an id bucket blindly and idempotently, and reads them back, odd ids included', async () => {
    const bucket = { group: 'customer/ids', entityId: `cus_b001@${BASE_TIME}` };
    const a = { r: 'shardId-000000000000:1', t: BASE_TIME + 1 };
    const b = { r: 'shardId-000000000000:2', t: BASE_TIME + 2, lg: ['customer', 'merchant'] };
    const add = store.addIds?.bind(store);
    if (!add) throw new Error('the store has no id buckets');
    expect(await add([{ key: bucket, entries: { evt_a: a }, expiresAt: expiresAt() }])).toEqual(['stored']);
    const odd: Record<string, typeof a> = {};
    Object.defineProperty(odd, '__proto__', {
      value: b,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    expect(
      await add([
        { key: bucket, entries: odd, expiresAt: expiresAt() },
        { key: bucket, entries: { evt_a: a }, expiresAt: expiresAt() }, // again: harmless
      ]),
    ).toEqual(['stored', 'stored']);
    const [got] = await store.load([bucket]);
    const recent = got?.state.recent ?? {};
    expect(Object.keys(recent).sort()).toEqual(['__proto__', 'evt_a']);
    expect(Object.getOwnPropertyDescriptor(recent, '__proto__')?.value).toEqual(b);
    expect(recent.evt_a).toEqual(a);
  });

  it('refuses a write based on a stale version, as a conflict', async () => {
    await store.save([{ key: key('cus_a002'), state: state(1), expectedVersion: 0, expiresAt: expiresAt() }]);
    expect(
      await store.save([
        { key: key('cus_a002'), state: state(2), expectedVersion: 1, expiresAt: expiresAt() },
      ]),
    ).toEqual(['saved']);
    expect(
      await store.save([
        { key: key('cus_a002'), state: state(3), expectedVersion: 1, expiresAt: expiresAt() },
      ]),
    ).toEqual(['conflict']);
    expect(
      await store.save([
        { key: key('cus_a003'), state: state(3), expectedVersion: 4, expiresAt: expiresAt() },
      ]),
    ).toEqual(['conflict']);
    const [got] = await store.load([key('cus_a002')]);
    expect(got?.state.latest?.values.last_amount_minor).toBe(2);
  });

  it('keeps a null latest value as missing', async () => {
    await store.save([
      { key: key('cus_a004'), state: state(null), expectedVersion: 0, expiresAt: expiresAt() },
    ]);
    const [got] = await store.load([key('cus_a004')]);
    expect(got?.state.latest?.values.last_amount_minor ?? null).toBeNull();
  });

  it('returns results in request order with explicit misses, past one BatchGetItem page', async () => {
    const keys = Array.from({ length: 130 }, (_, i) => key(`cus_m${String(i).padStart(4, '0')}`));
    const results = await store.save(
      keys.map((k, i) => ({
        key: k,
        state: state(i, `evt_${i}`),
        expectedVersion: 0,
        expiresAt: expiresAt(),
      })),
    );
    expect(results.every((r) => r === 'saved')).toBe(true);
    const got = await store.load([key('cus_none'), ...keys]);
    expect(got[0]).toBeUndefined();
    expect(got.slice(1).map((g) => g?.state.latest?.eventId)).toEqual(keys.map((_, i) => `evt_${i}`));
  });

  it('answers a projected read with the values and tiles asked, and a repeated key with the same entity', async () => {
    await store.save([{ key: key('cus_p001'), state: state(7), expectedVersion: 0, expiresAt: expiresAt() }]);
    const [a, missing, b] = await store.load([key('cus_p001'), key('cus_p404'), key('cus_p001')], {
      latest: ['last_amount_minor'],
      tiles: true,
    });
    expect(missing).toBeUndefined();
    expect(a?.state.latest?.values.last_amount_minor).toBe(7);
    expect(a?.state.tiles).toEqual(state(7).tiles);
    expect(a?.state.maxEventTime).toBe(BASE_TIME);
    expect(b?.state).toEqual(a?.state);
  });
});

// Rolling forward and back between releases: whatever layout wrote an item, every release reads it.
describe('DynamoDbEntityStore layouts', () => {
  it('reads an entity and its id bucket written in either layout, and rewrites them in the other', async () => {
    const { names, dynamodb } = await provisionTestResources(inject('standIns'));
    const store = (writeLayout: ItemLayout) =>
      new DynamoDbEntityStore({ tableName: names.onlineTable, client: dynamodb, writeLayout });
    const bucket = { group: 'customer/ids' };
    const entries = {
      evt_9: { r: 'shardId-000000000000:49600000000000000000000000000000000000000099', t: BASE_TIME + 9 },
    };
    for (const [from, to] of [
      [1, 2],
      [2, 1],
      [4, 1],
      [1, 4],
      [4, 3],
    ] as const) {
      const k = key(`cus_l${from}${to}`);
      const ids = { ...bucket, entityId: `cus_l${from}${to}@${BASE_TIME}` };
      await store(from).save([{ key: k, state: state(5), expectedVersion: 0, expiresAt: expiresAt() }]);
      await store(from).addIds?.([{ key: ids, entries, expiresAt: expiresAt() }]);
      const [read] = await store(to).load([k]);
      expect(read).toEqual({ state: state(5), version: 1 });
      const [decided] = await store(to).load([ids]);
      expect(decided?.state.recent).toEqual(entries);
      // The bucket's next second of moves by the other layout (a deployment raising or lowering it
      // mid-second): both read, by either.
      const more = { evt_8: { ...entries.evt_9, t: BASE_TIME + 8, lg: ['merchant'] } };
      await store(to).addIds?.([{ key: ids, entries: more, expiresAt: expiresAt() }]);
      for (const reader of [from, to]) {
        const [both] = await store(reader).load([ids]);
        expect(both?.state.recent).toEqual({ ...entries, ...more });
      }
      // Rewritten by the other layout, read back by the first.
      await store(to).save([{ key: k, state: state(6), expectedVersion: 1, expiresAt: expiresAt() }]);
      const [back] = await store(from).load([k]);
      expect(back).toEqual({ state: state(6), version: 2 });
    }
  });

  it('writes the layout it is given, and layout 1 unless told otherwise', async () => {
    const { names, dynamodb } = await provisionTestResources(inject('standIns'));
    const raw = async (pk: string) =>
      (await dynamodb.send(new GetItemCommand({ TableName: names.onlineTable, Key: { pk: { S: pk } } })))
        .Item;
    const entries = {
      evt_9: { r: 'shardId-000000000000:49600000000000000000000000000000000000000099', t: BASE_TIME + 9 },
    };
    for (const [label, writeLayout] of [
      ['default', undefined],
      ['1', 1],
      ['2', 2],
      ['3', 3],
      ['4', 4],
    ] as const) {
      const store = new DynamoDbEntityStore({ tableName: names.onlineTable, client: dynamodb, writeLayout });
      await store.save([
        { key: key(`cus_w${label}`), state: state(5), expectedVersion: 0, expiresAt: expiresAt() },
      ]);
      await store.addIds?.([
        {
          key: { group: 'customer/ids', entityId: `cus_w${label}@${BASE_TIME}` },
          entries,
          expiresAt: expiresAt(),
        },
      ]);
      const item = await raw(`customer#cus_w${label}`);
      const bucket = await raw(`customer/ids#cus_w${label}@${BASE_TIME}`);
      const dd = JSON.parse(item?.dd?.S ?? '{}');
      const tl = JSON.parse(item?.tl?.S ?? '{}');
      const chunks = Object.entries(bucket ?? {}).filter(([name]) => name.startsWith('c:'));
      // Layout 4 adds a move's decisions as one deflated chunk, and no attribute per id.
      expect([
        chunks.length,
        chunks.every(([, v]) => v.B instanceof Uint8Array),
        'i:evt_9' in (bucket ?? {}),
      ]).toEqual(writeLayout === 4 ? [1, true, false] : [0, true, true]);
      const decision =
        writeLayout === 4
          ? JSON.stringify(decodeBucketChunk(chunks[0]?.[1].B as Uint8Array, BASE_TIME)[0]?.[1])
          : (bucket?.['i:evt_9']?.S ?? '');
      // Layouts 3 and 4 write an item within one write unit less 128 bytes as layout 2 does.
      if (writeLayout === 4) {
        expect(JSON.parse(decision)).toEqual(entries.evt_9);
        expect([Object.keys(dd).sort(), 'n' in tl]).toEqual([['j', 'k', 's', 'u'], true]);
      } else if (writeLayout === 2 || writeLayout === 3) {
        expect([Object.keys(dd).sort(), 'n' in tl, decision.startsWith('[')]).toEqual([
          ['j', 'k', 's', 'u'],
          true,
          true,
        ]);
      } else {
        // What releases from 704c214 read.
        expect([Object.keys(dd).sort(), 'n' in tl, JSON.parse(decision)]).toEqual([
          ['c', 'i', 's', 'u'],
          false,
          entries.evt_9,
        ]);
      }
    }
  });
});

describe('DynamoDbEntityStore layout 3 (deflated past one write unit less 128 bytes)', () => {
  /** state(amount) holding `n` more decisions under UUID-shaped event ids: 1.4 KB in layout 2, 0.9 deflated. */
  const busy = (amount: number, n = 20): EntityState => {
    const s = state(amount);
    for (let i = 0; i < n; i++) {
      const hex = createHash('sha256').update(`${amount}:${i}`).digest('hex');
      const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
      s.recent[secondKey(id, BASE_TIME - i * 1000)] = {
        r: `shardId-000000000000:${BigInt('1'.repeat(29)) - BigInt(i * 7919 + 13)}`,
        t: BASE_TIME - i * 1000,
      };
    }
    return s;
  };

  it('stores tl and dd as binaries, bills their bytes, and reads them back whole, projected, and in any layout', async () => {
    const { names, dynamodb } = await provisionTestResources(inject('standIns'));
    const store = (writeLayout: ItemLayout) =>
      new DynamoDbEntityStore({ tableName: names.onlineTable, client: dynamodb, writeLayout });
    const three = store(3);
    const k = key('cus_z001');
    expect(
      await three.save([{ key: k, state: busy(7), expectedVersion: 0, expiresAt: expiresAt() }]),
    ).toEqual(['saved']);
    const item = (
      await dynamodb.send(
        new GetItemCommand({ TableName: names.onlineTable, Key: { pk: { S: 'customer#cus_z001' } } }),
      )
    ).Item;
    expect([item?.tl?.B instanceof Uint8Array, item?.dd?.B instanceof Uint8Array]).toEqual([true, true]);
    // One write unit, where layout 2 takes two for the same state.
    expect(three.consumedWriteUnits).toBe(1);
    const two = store(2);
    await two.save([{ key: key('cus_z002'), state: busy(7), expectedVersion: 0, expiresAt: expiresAt() }]);
    expect(two.consumedWriteUnits).toBe(2);
    // Read whole by every layout's store, and projected as a window lookup reads it.
    for (const layout of ITEM_LAYOUTS)
      expect(await store(layout).load([k])).toEqual([{ state: busy(7), version: 1 }]);
    const [projected] = await three.load([k], { latest: ['last_amount_minor'], tiles: true });
    expect(projected?.state.tiles).toEqual(busy(7).tiles);
    expect(projected?.state.recent).toEqual({});
    // Rewritten by layout 2 (a rollback of the writer, not of the reader), then by 3 again.
    await two.save([{ key: k, state: busy(8), expectedVersion: 1, expiresAt: expiresAt() }]);
    expect(await three.load([k])).toEqual([{ state: busy(8), version: 2 }]);
    await three.save([{ key: k, state: busy(9), expectedVersion: 2, expiresAt: expiresAt() }]);
    expect(await two.load([k])).toEqual([{ state: busy(9), version: 3 }]);
  });
});

// Only DynamoDB projects: a lookup must not pay for the processor's bookkeeping (for a hot
// customer, hundreds of recent event ids) when it reads the tiles.
describe('DynamoDbEntityStore projection', () => {
  it('reads the tiles of a window lookup without the checkpoints and recent event ids', async () => {
    const { names, dynamodb } = await provisionTestResources(inject('standIns'));
    const store = new DynamoDbEntityStore({ tableName: names.onlineTable, client: dynamodb });
    await store.save([{ key: key('cus_p002'), state: state(3), expectedVersion: 0, expiresAt: expiresAt() }]);
    const [projected] = await store.load([key('cus_p002')], { latest: [], tiles: true });
    expect(projected?.state.tiles).toEqual(state(3).tiles);
    expect(projected?.state.checkpoints).toEqual({});
    expect(projected?.state.recent).toEqual({});
    const [whole] = await store.load([key('cus_p002')]);
    expect(whole?.state).toEqual(state(3));
  });
});
