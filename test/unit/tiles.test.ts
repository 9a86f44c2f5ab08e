import { describe, expect, it } from 'vitest';
import { addToTiles, evaluateWindows, pruneTiles, type TileSet, tilePlan } from '../../lambdas/core/tiles.js';
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
});
