/**
 * How the lookup benchmark times its scenarios: our HTTP calls, and next to them on the same
 * entities the baseline and the store call alone, interleaved; and the item sizes it reports.
 */
import { loadavg } from 'node:os';
import { BatchGetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { itemBytes } from './dynamodb-meter.js';
import { type Percentiles, percentiles } from './lookup-handler.js';
import { countStatuses, type FeatureStatusCounts } from './lookup-http.js';
import { timed } from './stats.js';

export interface Scenario {
  readonly ours: Percentiles;
  readonly baseline: Percentiles;
  /** The store call alone (DynamoDbEntityStore.load, same keys and projection), from this process. */
  readonly store: Percentiles;
  readonly statuses: FeatureStatusCounts;
  readonly failures: number;
  /**
   * 1-minute load average at the end: this bench's own processes count (Node, DynamoDB Local, autocannon's
   * worker), and so does any other work on the machine, which inflates the tails.
   */
  readonly loadAverage: number;
}

export interface Side {
  readonly call: () => Promise<unknown>;
  readonly warm: number;
  readonly measured: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Our calls, and next to every k-th of them (same entities) a baseline call and a direct store call,
 * alternating which goes first so that neither always meets a warmer DynamoDB Local.
 */
export async function measure(
  n: { warm: number; measured: number },
  ours: () => Promise<{ ms: number; status: number; body: unknown }>,
  sides: { baseline: Side; store: Side },
): Promise<Scenario> {
  const o: number[] = [];
  const times = { baseline: [] as number[], store: [] as number[] };
  const statuses: FeatureStatusCounts = {};
  let failures = 0;
  const runOurs = async (keep: boolean) => {
    const call = await ours();
    if (call.status !== 200) failures++;
    if (!keep) return;
    o.push(call.ms);
    countStatuses(call.body, statuses);
  };
  const runSide = async (name: keyof typeof sides, keep: boolean) => {
    const { timing } = await timed(sides[name].call);
    if (keep) times[name].push(timing.wallMs);
  };
  for (let i = 0; i < n.warm; i++) {
    await runOurs(false);
    for (const name of ['baseline', 'store'] as const) if (i < sides[name].warm) await runSide(name, false);
  }
  for (let i = 0; i < n.measured; i++) {
    const due = (['baseline', 'store'] as const).filter(
      (name) =>
        i % Math.max(1, Math.round(n.measured / sides[name].measured)) === 0 &&
        times[name].length < sides[name].measured,
    );
    if (i % 2 === 1) for (const name of due) await runSide(name, true);
    await runOurs(true);
    if (i % 2 === 0) for (const name of due) await runSide(name, true);
  }
  return {
    ours: percentiles(o),
    baseline: percentiles(times.baseline),
    store: percentiles(times.store),
    statuses,
    failures,
    loadAverage: loadavg()[0] ?? 0,
  };
}

/** Mean bytes of whole items and of their `tl` attribute (the tiles, which a window lookup reads too). */
export async function itemSizes(client: DynamoDBClient, table: string, pks: readonly string[]) {
  const out = await client.send(
    new BatchGetItemCommand({ RequestItems: { [table]: { Keys: pks.map((pk) => ({ pk: { S: pk } })) } } }),
  );
  const items = out.Responses?.[table] ?? [];
  return {
    item: Math.round(mean(items.map((i) => itemBytes(i)))),
    // `tl` is a string, or in layout 3 a binary (deflated) in items past one write unit less 128 bytes.
    tl: Math.round(mean(items.map((i) => (i.tl?.B ? i.tl.B.length : Buffer.byteLength(i.tl?.S ?? ''))))),
  };
}
