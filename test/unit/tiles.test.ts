import { describe, expect, it } from 'vitest';
import { decodeTiles, encodeTiles, LATEST_ITEM_LAYOUT } from '../../lambdas/adapters/entity-item-codec.js';
import {
  addToTiles,
  distinctValue,
  evaluateWindows,
  pruneTiles,
  type TileSet,
  tilePlan,
} from '../../lambdas/core/tiles.js';
import { featureGroupsByName } from '../../schemas/index.js';

const customer = featureGroupsByName.get('customer') as NonNullable<
  ReturnType<typeof featureGroupsByName.get>
>;
const T = Date.parse('2026-11-25T10:00:00.000Z');
const MIN = 60_000;

function tilesOf(
  events: { t: number; amount: number; merchant?: string; channel?: string; id?: string }[],
): TileSet {
  const tiles: TileSet = {};
  for (const [i, e] of events.entries()) {
    addToTiles(tiles, tilePlan(customer), {
      eventTime: e.t,
      eventId: e.id ?? `evt_${i}`,
      fields: { amountMinor: e.amount, merchantId: e.merchant ?? 'mer_0001', channel: e.channel ?? 'pos' },
    });
  }
  return tiles;
}

describe('window tiles', () => {
  it('combines count, sum, mean, min, max and distinct over the window', () => {
    const tiles = tilesOf([
      { t: T - 10 * MIN, amount: 100, merchant: 'mer_a' },
      { t: T - 5 * MIN, amount: 300, merchant: 'mer_b' },
      { t: T - 1 * MIN, amount: 200, merchant: 'mer_a' },
    ]);
    expect(evaluateWindows(customer, tiles, T)).toMatchObject({
      txn_count_1h: 3,
      amount_sum_1h: 600,
      amount_mean_24h: 200,
      amount_min_24h: 100,
      amount_max_24h: 300,
      merchant_distinct_24h: 2,
    });
  });

  // Read at 10:00:30, the 5-minute window starts at 09:55:30, inside the 1-minute tile [09:55, 09:56).
  it.each([
    ['inside the window', T - 4 * MIN, 1],
    ['in the oldest, partly covered tile (exact to the 1-minute tile)', T - 4 * MIN - 50_000, 1],
    ['a whole tile before the window', T - 5 * MIN - 1, 0],
    ['after the read time', T + MIN, 0],
  ])('counts an event %s accordingly in a 5-minute window', (_, t, expected) => {
    expect(evaluateWindows(customer, tilesOf([{ t, amount: 1 }]), T + 30_000).txn_count_5m).toBe(expected);
  });

  it('takes the last value by event time, ties by event id', () => {
    const tiles = tilesOf([
      { t: T - 2 * MIN, amount: 1, channel: 'atm', id: 'evt_b' },
      { t: T - 2 * MIN, amount: 1, channel: 'pos', id: 'evt_a' },
      { t: T - 9 * MIN, amount: 1, channel: 'wallet', id: 'evt_z' },
    ]);
    expect(evaluateWindows(customer, tiles, T).channel_last_1h).toBe('atm');
  });

  it('answers an empty window with zero counts and sums and null for the rest', () => {
    expect(evaluateWindows(customer, {}, T)).toMatchObject({
      txn_count_7d: 0,
      amount_sum_7d: 0,
      amount_mean_7d: null,
      amount_max_24h: null,
    });
  });

  it('prunes tiles no window can reach and keeps the ones a window still covers', () => {
    const tiles = tilesOf([
      { t: T - 8 * 24 * 60 * MIN, amount: 1 },
      { t: T - 30 * MIN, amount: 2 },
    ]);
    pruneTiles(tiles, tilePlan(customer), T);
    expect(evaluateWindows(customer, tiles, T)).toMatchObject({
      txn_count_7d: 1,
      amount_sum_7d: 2,
      txn_count_1h: 1,
    });
    expect(tiles['60000'] ?? []).toHaveLength(0);
  });

  it('counts distinct values up to the cap, exactly: min(distinct, maxDistinct), whatever the tiles', () => {
    const merchants = (n: number, from = 0) =>
      Array.from({ length: n }, (_, i) => `mer_${String(from + i).padStart(4, '0')}`);
    const at = (t: number, names: string[]) => names.map((merchant) => ({ t, amount: 1, merchant }));
    // One hour tile with more distinct merchants than it keeps: it keeps 100 and marks that it saw more.
    const full = tilesOf(at(T - 10 * MIN, [...merchants(130), ...merchants(5)]));
    const hour = (full[3_600_000] as NonNullable<TileSet[string]>)[0];
    expect(hour?.f.merchantId?.d).toHaveLength(100);
    expect(hour?.f.merchantId?.o).toBe(100); // full at this cap
    // The mark survives the item layout.
    expect(decodeTiles(encodeTiles({ maxEventTime: T, tiles: full }, LATEST_ITEM_LAYOUT)).tiles).toEqual(
      full,
    );
    expect(evaluateWindows(customer, full, T)).toMatchObject({
      merchant_distinct_24h: 100,
      merchant_distinct_7d: 100,
      txn_count_24h: 135,
    });
    // Two hour tiles of 60 each: neither is full, their union of 90 is exact, their union of 120 saturates.
    const overlapping = tilesOf([...at(T - 90 * MIN, merchants(60)), ...at(T - 10 * MIN, merchants(60, 30))]);
    expect(evaluateWindows(customer, overlapping, T).merchant_distinct_24h).toBe(90);
    const apart = tilesOf([...at(T - 90 * MIN, merchants(60)), ...at(T - 10 * MIN, merchants(60, 60))]);
    expect(evaluateWindows(customer, apart, T).merchant_distinct_24h).toBe(100);
    // Under the cap nothing is marked.
    expect((apart[3_600_000] as NonNullable<TileSet[string]>).some((t) => t.f.merchantId?.o)).toBe(false);
  });

  it('keeps a long or multi-byte distinct value as its digest, so the size bound holds for any value', () => {
    const arabic = (n: number) => `${'م'.repeat(58)}${String(n).padStart(6, '0')}`; // 64 characters, 122 bytes
    expect(distinctValue('mer_0001')).toBe('mer_0001');
    expect(distinctValue(arabic(1))).toMatch(/^#[A-Za-z0-9_-]{22}$/);
    expect(distinctValue(arabic(1))).toBe(distinctValue(arabic(1)));
    expect(distinctValue(arabic(1))).not.toBe(distinctValue(arabic(2)));
    expect(distinctValue('\u0001'.repeat(11))).toMatch(/^#/); // 66 bytes of JSON escapes
    // Lone surrogates stay apart (UTF-8 would turn both into U+FFFD; the digest is of the JSON text).
    expect(distinctValue(`\ud800${'x'.repeat(70)}`)).not.toBe(distinctValue(`\udbff${'x'.repeat(70)}`));
    // 100 such names in each of the 26 hour tiles and 9 day tiles pruning keeps (found on review: the
    // tiles alone encoded to 414 KB, over DynamoDB's 400 KB item).
    const tiles: TileSet = {};
    let n = 0;
    const add = (t: number) =>
      addToTiles(tiles, tilePlan(customer), {
        eventTime: t,
        eventId: `evt_${n}`,
        fields: { amountMinor: 1, merchantId: arabic(n++) },
      });
    const HOUR = 3_600_000;
    for (let h = 0; h < 26; h++) for (let i = 0; i < 100; i++) add(T - h * HOUR);
    for (let d = 1; d < 9; d++) for (let i = 0; i < 100; i++) add(T - d * 24 * HOUR - 12 * HOUR);
    pruneTiles(tiles, tilePlan(customer), T);
    expect(Buffer.byteLength(encodeTiles({ maxEventTime: T, tiles }, 1))).toBeLessThan(256 * 1024);
    expect(evaluateWindows(customer, tiles, T).merchant_distinct_24h).toBe(100);
  });

  it('reads a tile full at a lower cap (the definition raised it) as at least that cap plus one', () => {
    const tiles: TileSet = {
      3600000: [
        {
          t: Math.floor(T / 3_600_000) * 3_600_000,
          n: 150,
          f: { merchantId: { c: 150, d: Array.from({ length: 50 }, (_, i) => `mer_${i}`), o: 40 } },
        },
      ],
    };
    // Full at 40, it saw at least 41 distinct merchants; it keeps 50 of them now: at least 50.
    expect(evaluateWindows(customer, tiles, T).merchant_distinct_24h).toBe(50);
    const full = {
      ...tiles,
      3600000: [
        {
          ...(tiles[3_600_000]?.[0] as NonNullable<TileSet[string]>[number]),
          f: { merchantId: { c: 150, d: ['mer_1'], o: 40 } },
        },
      ],
    };
    expect(evaluateWindows(customer, full, T).merchant_distinct_24h).toBe(41);
  });
});
