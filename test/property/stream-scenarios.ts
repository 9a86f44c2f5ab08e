/**
 * fast-check generators of whole stream scenarios for the exactly-once property: what producers
 * send (skewed keys, event times out of order within and beyond the allowed lateness, producer
 * retries of the same event, malformed records), how it lands on shards (partition key = customer
 * id, hashed to shards, optionally resharded mid-stream), and how Lambda delivers it (a schedule of
 * batch sizes, faults, bisection, redeliveries and replays). Generated as small raw choices and
 * mapped to records, so a failing scenario shrinks to few records and a short schedule.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { InputRecord } from '../../lambdas/core/decode.js';
import type { FeatureGroup } from '../../schemas/index.js';
import { featureGroupsByName } from '../../schemas/index.js';
import type { FaultPlan } from '../support/fault-stores.js';
import { BASE_TIME, envelope, FIRST_SEQUENCE, type TransactionFields } from '../support/records.js';
import type { Delivery, SimulatedShard } from '../support/simulated-shard.js';

const MINUTE = 60_000;
export const customerGroup = featureGroupsByName.get('customer') as FeatureGroup;
export const merchantGroup = featureGroupsByName.get('merchant') as FeatureGroup;
/** A second group keyed by the merchant (as a bank might add a terminal group): two besides the authority. */
export const merchantMirrorGroup: FeatureGroup = { ...merchantGroup, name: 'merchant_mirror' };

type MalformedVariant = 'not-json' | 'bad-currency' | 'unknown-contract' | 'partition-key' | 'future';

/** One record as the producers sent it, in send order. */
export type Sent =
  | { readonly kind: 'event' | 'duplicate'; readonly fields: TransactionFields; readonly arrivalTime: number }
  | {
      readonly kind: 'malformed';
      readonly variant: MalformedVariant;
      readonly payload: string;
      readonly partitionKey: string;
      readonly arrivalTime: number;
    };

export interface StreamScenario {
  readonly sent: readonly Sent[];
  readonly shards: readonly SimulatedShard[];
  readonly groups: readonly FeatureGroup[];
  readonly parallelizationFactor: number;
  readonly schedule: readonly Delivery[];
  /** Batch size once the schedule is used up. */
  readonly calmBatchSize: number;
  /** After everything, replay every shard from its start (all checkpoints lost). */
  readonly finalReplay: boolean;
  /**
   * Consumer stalls: before invocation i, the wall clock falls `stallsMs[i]` further behind the
   * records' arrival (lag that never catches up), up to a day and a half each.
   */
  readonly stallsMs: readonly number[];
  /**
   * Entities DynamoDB refuses for good until the stream is delivered (picks among the entities the
   * stream names, customers and merchants alike): their records are parked, then redriven.
   */
  readonly poisoned: readonly number[];
  /**
   * The invocation before which refused entities of other groups than the customer (merchants) are
   * taken again, mid-stream (a fix deployed while batches are retried); null: at the end. Customers
   * stay refused to the end: their records redriven later could be late where the reference, in send
   * order, has them on time.
   */
  readonly liftMerchantsAt: number | null;
  /**
   * Entities of other groups than the customer (merchants) whose writes fail for a while, as under
   * throttling or a partial outage (a failure that passes): until invocation `until`, picks among the
   * merchants the stream names; with `rows`, the offline bucket refuses feature history meanwhile
   * (a KMS key disabled). Stalls meanwhile take records their customers decided young past the park
   * age, still failing there: parked for the merchant, their rows parked. Null: none.
   */
  readonly outage: {
    readonly merchants: readonly number[];
    readonly until: number;
    readonly rows: boolean;
  } | null;
  /**
   * The first merchant group's table throttles the first two invocations of the first redrive (its
   * burst): a copy for two merchant groups is applied by one of them only. With `givesUp`, the
   * throttling lasts until the mapping gives up the copies it failed (for some groups) with nothing
   * else going wrong; the steward redrives them with the next round. Null: none.
   */
  readonly redriveThrottled: { readonly givesUp: boolean } | null;
}

// --- what producers send -------------------------------------------------------------------

/** A few hot keys carry most of the traffic; many cold ones a record or two each. */
const skewed = (prefix: string, hot: number, cold: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 1, max: hot }).map((i) => `${prefix}_hot${i}`) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: cold }).map((i) => `${prefix}_cold${String(i).padStart(3, '0')}`),
    },
  );

/** Minutes the producers' clock moves before a record: mostly little, sometimes hours or days. */
const advance = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 4, arbitrary: fc.integer({ min: 4, max: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 3_000 }) },
);

/** Minutes an event time is behind the clock: on time, late within the 1 h lateness, beyond it, or a little ahead. */
const lag = fc.oneof(
  { weight: 10, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 60 }) },
  { weight: 3, arbitrary: fc.integer({ min: 61, max: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: -4, max: -1 }) },
);

const rawEvent = fc.record({
  kind: fc.constant('event' as const),
  customer: skewed('cus', 3, 40),
  merchant: skewed('mer', 2, 30),
  amountMinor: fc.integer({ min: 0, max: 50_000 }),
  channel: fc.constantFrom('pos', 'ecommerce', 'atm', 'wallet'),
  currency: fc.constantFrom('AED', 'USD'),
  advance,
  lag,
  /** makes event ids unordered relative to time, so equal event times are broken by id */
  nonce: fc.integer({ min: 0, max: 0xffff }),
});
const rawDuplicate = fc.record({ kind: fc.constant('duplicate' as const), back: fc.nat(40) });
const rawMalformed = fc.record({
  kind: fc.constant('malformed' as const),
  variant: fc.constantFrom<MalformedVariant>(
    'not-json',
    'bad-currency',
    'unknown-contract',
    'partition-key',
    'future',
  ),
  customer: skewed('cus', 3, 40),
});
const rawItem = fc.oneof(
  { weight: 20, arbitrary: rawEvent },
  { weight: 4, arbitrary: rawDuplicate },
  { weight: 1, arbitrary: rawMalformed },
);
type RawItem = typeof rawItem extends fc.Arbitrary<infer T> ? T : never;

const START = BASE_TIME - 3 * 24 * 60 * MINUTE;

function toSent(raw: readonly RawItem[]): Sent[] {
  const sent: Sent[] = [];
  const events: TransactionFields[] = [];
  let clock = START;
  raw.forEach((item, index) => {
    const arrivalTime = clock + 1_000;
    if (item.kind === 'duplicate') {
      // A producer retry: the same event, sent again later as a new record.
      const original = events[events.length - 1 - (item.back % Math.max(1, events.length))];
      if (original) sent.push({ kind: 'duplicate', fields: original, arrivalTime });
      return;
    }
    if (item.kind === 'malformed') {
      const fields = transactionFields(item.customer, 'mer_hot1', index, clock, 0);
      const payload = {
        'not-json': '{"contract":',
        'bad-currency': envelope({ ...fields, currency: 'dirham' }),
        'unknown-contract': envelope(fields, 'refund'),
        'partition-key': envelope(fields),
        future: envelope({ ...fields, eventTime: new Date(arrivalTime + 10 * MINUTE).toISOString() }),
      }[item.variant];
      const partitionKey = item.variant === 'partition-key' ? 'cus_wrongkey' : item.customer;
      sent.push({ kind: 'malformed', variant: item.variant, payload, partitionKey, arrivalTime });
      return;
    }
    clock += item.advance * MINUTE;
    const fields = {
      ...transactionFields(item.customer, item.merchant, index, clock, item.lag, item.nonce),
      amountMinor: item.amountMinor,
      channel: item.channel,
      currency: item.currency,
    };
    events.push(fields);
    sent.push({ kind: 'event', fields, arrivalTime: clock + 1_000 });
  });
  return sent;
}

function transactionFields(
  customerId: string,
  merchantId: string,
  index: number,
  clock: number,
  lagMinutes: number,
  nonce = 0,
): TransactionFields {
  return {
    eventId: `evt_${nonce.toString(16).padStart(4, '0')}_${String(index).padStart(5, '0')}`,
    customerId,
    merchantId,
    amountMinor: 100,
    currency: 'AED',
    country: 'AE',
    channel: 'pos',
    customerEmail: `${customerId}@example.ae`,
    eventTime: new Date(clock - lagMinutes * MINUTE).toISOString(),
  };
}

// --- how it lands on shards ----------------------------------------------------------------

export type Reshard =
  | { readonly kind: 'none' }
  /** After `at` percent of the records were sent, shard `shard` splits into two children. */
  | { readonly kind: 'split'; readonly shard: number; readonly at: number }
  /** After `at` percent of the records were sent, shards 0 and 1 merge into one child (with 2+ shards). */
  | { readonly kind: 'merge'; readonly at: number };

const sentIndex = new WeakMap<InputRecord, number>();
/** Which sent record a stream record carries. */
export const sentIndexOf = (r: InputRecord): number => sentIndex.get(r) ?? -1;

const hash = (s: string) => createHash('md5').update(s).digest().readUInt32BE(0);
const shardName = (n: number) => `shardId-${String(n).padStart(12, '0')}`;

/**
 * Puts the records on shards by partition key. Each shard numbers its records from the same first
 * sequence number, so nothing may compare sequence numbers across shards (a child shard's are even
 * lower than its parent's).
 */
export function toShards(sent: readonly Sent[], shardCount: number, reshard: Reshard): SimulatedShard[] {
  const records = new Map<string, InputRecord[]>();
  const parents = new Map<string, string[]>();
  for (let n = 0; n < shardCount; n++) parents.set(shardName(n), []);
  if (reshard.kind === 'split') {
    const parent = shardName(reshard.shard % shardCount);
    parents.set(shardName(10), [parent]).set(shardName(11), [parent]);
  }
  if (reshard.kind === 'merge' && shardCount >= 2) parents.set(shardName(12), [shardName(0), shardName(1)]);
  const cut = reshard.kind === 'none' ? sent.length : Math.floor((reshard.at * sent.length) / 100);
  sent.forEach((s, index) => {
    const partitionKey = s.kind === 'malformed' ? s.partitionKey : s.fields.customerId;
    let shard = hash(partitionKey) % shardCount;
    if (reshard.kind === 'split' && index >= cut && shard === reshard.shard % shardCount)
      shard = 10 + (hash(`${partitionKey}/split`) % 2);
    if (reshard.kind === 'merge' && shardCount >= 2 && index >= cut && shard <= 1) shard = 12;
    const shardId = shardName(shard);
    const list = records.get(shardId) ?? [];
    const sequenceNumber = String(FIRST_SEQUENCE + BigInt(list.length) * 10n);
    const record: InputRecord = {
      recordId: `${shardId}:${sequenceNumber}`,
      shardId,
      sequenceNumber,
      partitionKey,
      arrivalTime: s.arrivalTime,
      data: Buffer.from(s.kind === 'malformed' ? s.payload : envelope(s.fields)).toString('base64'),
    };
    sentIndex.set(record, index);
    list.push(record);
    records.set(shardId, list);
  });
  return [...parents].map(([shardId, ps]) => ({ shardId, parents: ps, records: records.get(shardId) ?? [] }));
}

// --- how Lambda delivers it ----------------------------------------------------------------

const indices = fc.array(fc.nat(6), { minLength: 1, maxLength: 3 });
const faultPlan: fc.Arbitrary<FaultPlan> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({}) },
  { weight: 2, arbitrary: fc.record({ failEntityWrites: indices }) },
  { weight: 1, arbitrary: fc.record({ conflictEntityWrites: indices }) },
  { weight: 3, arbitrary: fc.record({ crashAfterEntityWrites: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ failLoad: fc.constant(true) }) },
  { weight: 1, arbitrary: fc.record({ failOfflinePuts: indices }) },
  { weight: 1, arbitrary: fc.record({ crashAfterOfflinePuts: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ failSidePuts: indices }) },
  { weight: 1, arbitrary: fc.record({ crashAfterSidePuts: fc.integer({ min: 1, max: 3 }) }) },
);

const delivery: fc.Arbitrary<Delivery> = fc.record({
  batchSize: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 5, max: 40 })),
  bisect: fc.boolean(),
  regroup: fc.boolean(),
  faults: fc
    .tuple(faultPlan, fc.integer({ min: 0, max: 3 }))
    .map(([plan, yields]) => (yields ? { ...plan, yields } : plan)),
  lostResponse: fc.oneof(
    { weight: 12, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  after: fc.oneof(
    { weight: 10, arbitrary: fc.constant('none' as const) },
    { weight: 1, arbitrary: fc.constant('redeliver' as const) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 25 }).map((replay) => ({ replay })) },
  ),
});

export interface ScenarioShape {
  readonly groups: readonly FeatureGroup[];
  readonly maxShards: number;
  readonly maxParallelization: number;
  readonly reshard: boolean;
  readonly maxRecords: number;
}

export function streamScenario(shape: ScenarioShape): fc.Arbitrary<StreamScenario> {
  return fc
    .record({
      raw: fc.array(rawItem, { minLength: 1, maxLength: shape.maxRecords, size: 'max' }),
      shardCount: fc.integer({ min: 1, max: shape.maxShards }),
      reshard: shape.reshard
        ? fc.oneof(
            { weight: 1, arbitrary: fc.constant<Reshard>({ kind: 'none' }) },
            {
              weight: 2,
              arbitrary: fc.record({
                kind: fc.constant('split' as const),
                shard: fc.nat(3),
                at: fc.nat(100),
              }),
            },
            { weight: 2, arbitrary: fc.record({ kind: fc.constant('merge' as const), at: fc.nat(100) }) },
          )
        : fc.constant<Reshard>({ kind: 'none' }),
      parallelizationFactor: fc.integer({ min: 1, max: shape.maxParallelization }),
      schedule: fc.array(delivery, { maxLength: 40, size: 'max' }),
      calmBatchSize: fc.integer({ min: 1, max: 50 }),
      finalReplay: fc.boolean(),
      liftMerchantsAt: fc.option(fc.nat(30)),
      outage: fc.oneof(
        { weight: 2, arbitrary: fc.constant(null) },
        {
          weight: 1,
          arbitrary: fc.record({
            merchants: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }),
            until: fc.integer({ min: 1, max: 40 }),
            rows: fc.boolean(),
          }),
        },
      ),
      redriveThrottled: fc.oneof(
        { weight: 1, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constant({ givesUp: false }) },
        { weight: 2, arbitrary: fc.constant({ givesUp: true }) },
      ),
      poisoned: fc.oneof(
        { weight: 2, arbitrary: fc.constant([]) },
        { weight: 1, arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }) },
      ),
      stallsMs: fc.array(
        fc.oneof(
          { weight: 9, arbitrary: fc.constant(0) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 36 * 3_600_000 }) },
        ),
        { maxLength: 40 },
      ),
    })
    .map(({ raw, shardCount, reshard, ...rest }) => {
      const sent = toSent(raw);
      const scenario = { ...rest, sent, shards: toShards(sent, shardCount, reshard), groups: shape.groups };
      return Object.assign(scenario, { [fc.toStringMethod]: () => describeScenario(scenario) });
    });
}

/** A counterexample as a reader wants it: one line per record, shards as record numbers, the schedule. */
export function describeScenario(s: StreamScenario): string {
  const where = new Map<number, string>();
  for (const shard of s.shards)
    shard.records.forEach((r, i) => {
      where.set(sentIndexOf(r), `${shard.shardId.slice(-2)}/${i}`);
    });
  const lines = s.sent.map((r, i) =>
    r.kind === 'malformed'
      ? `#${i} @${where.get(i)} malformed ${r.variant} key=${r.partitionKey}`
      : `#${i} @${where.get(i)} ${r.kind} ${r.fields.eventId} ${r.fields.customerId} ${r.fields.merchantId} ` +
        `t=${r.fields.eventTime.slice(5, 16)} amount=${r.fields.amountMinor}`,
  );
  const shards = s.shards.map(
    (sh) =>
      `${sh.shardId}${sh.parents.length ? ` (after ${sh.parents.join(', ')})` : ''}: ${sh.records.length} records`,
  );
  return [
    `groups: ${s.groups.map((g) => g.name).join(', ')}; parallelization ${s.parallelizationFactor}; ` +
      `calm batch size ${s.calmBatchSize}; final replay ${s.finalReplay}; poisoned ${JSON.stringify(s.poisoned)} (merchants lifted at ${s.liftMerchantsAt}); ` +
      `outage ${JSON.stringify(s.outage)}; redrive throttled ${JSON.stringify(s.redriveThrottled)}; ` +
      `stalls ${
        s.stallsMs
          .filter((x) => x > 0)
          .map((x) => `${Math.round(x / 3_600_000)}h`)
          .join(', ') || 'none'
      }`,
    ...lines,
    ...shards,
    ...s.schedule.map((d, i) => `delivery ${i}: ${JSON.stringify(d)}`),
  ].join('\n');
}
