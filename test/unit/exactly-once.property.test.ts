/**
 * The exactly-once argument of lambdas/core/process-batch.ts, checked on generated scenarios: random
 * streams (hot and cold keys, out-of-order and late event times, producer retries, malformed
 * records) on one or more shards, resharded mid-stream, delivered as Lambda may (random batches,
 * partial failures, crashes after some writes, write conflicts, bisection, redelivery of finished
 * batches, replays after a lost checkpoint, parallelization lanes, stalls of up to a day and a half,
 * records given up at the mapping's maximum age and redriven as producer retries), with entities
 * DynamoDB refuses for good until the stream is delivered and merchants it refuses for a while
 * (their records parked, then redriven), then compared with a brute-force recomputation fed the
 * events in the order their authorities decided them. In-process, on the in-memory ports.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DynamoDbEntityStore, decodeItem, encodeItem } from '../../lambdas/adapters/dynamodb-entity-store.js';
import {
  chunksBuckets,
  decodeBucketAttributes,
  encodeBucketAttributes,
  ITEM_LAYOUTS,
  type ItemLayout,
  LATEST_ITEM_LAYOUT,
} from '../../lambdas/adapters/entity-item-codec.js';
import { OfflineStoreError, OnlineStoreError } from '../../lambdas/adapters/errors.js';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import { idBucketStartOf, isIdBucketGroup } from '../../lambdas/core/id-buckets.js';
import type {
  EntityKey,
  EntityState,
  EntityStore,
  OfflineSink,
  PutResult,
  RecentEvent,
  SaveResult,
} from '../../lambdas/core/ports.js';
import { type ProcessorDeps, processBatch } from '../../lambdas/core/process-batch.js';
import { compareSequence } from '../../lambdas/core/sequence.js';
import { completionEnvelope } from '../../offline/redrive/redrive.js';
import { contracts } from '../../schemas/index.js';
import { differencesFromReference, testTokenizer } from '../property/reference-check.js';
import {
  customerGroup,
  merchantGroup,
  merchantMirrorGroup,
  type ScenarioShape,
  type Sent,
  type StreamScenario,
  sentIndexOf,
  streamScenario,
} from '../property/stream-scenarios.js';
import { faultyDeps, InjectedCrash } from '../support/fault-stores.js';
import type { TransactionFields } from '../support/records.js';
import {
  DeliverySchedule,
  type DeliveryStats,
  deliverAll,
  type Invoke,
  laneOf,
} from '../support/simulated-shard.js';

/**
 * A state as it comes back from the DynamoDB item (the adapter's own encoding: `tl` and `dd` in
 * their stored layout, deflated in layout 3 where the item passes a write unit less 128 bytes). The layout changes
 * from one save to the next (by the state's watermark), as while a deployment raises
 * `entityItemLayout`: whichever layout wrote an item, the next batch reads the same state.
 */
const throughDynamoDbLayout = (key: EntityKey, state: EntityState): EntityState => {
  // A hash of the watermark: the generator's event times share factors (all even, say).
  const hash = Math.imul((state.maxEventTime ?? 0) | 0, 0x9e3779b1) >>> 16;
  const layout: ItemLayout = ITEM_LAYOUTS[hash % ITEM_LAYOUTS.length] ?? 2;
  const { item } = encodeItem({ key, state, expectedVersion: 0, expiresAt: 0 }, layout);
  if (item.dd instanceof Uint8Array) itemsDeflated++;
  // Latest values are attributes of their own in the item (a null one is left out).
  return { ...decodeItem(item).state, latest: state.latest };
};
/** Items the layout round trip stored deflated (so the generator reaches layout 3's binary path). */
let itemsDeflated = 0;

/**
 * Decisions moved to an id bucket as the adapter stores them: one attribute per id (layouts 1 to 3)
 * or one deflated chunk (layout 4), the layout again by a hash (of the bucket's second), so that a
 * bucket holds adds of several layouts.
 */
const throughBucketLayout = (
  key: EntityKey,
  entries: Record<string, RecentEvent>,
): Record<string, RecentEvent> => {
  const start = idBucketStartOf(key);
  const layout: ItemLayout =
    ITEM_LAYOUTS[(Math.imul(start / 1000, 0x9e3779b1) >>> 16) % ITEM_LAYOUTS.length] ?? 4;
  if (chunksBuckets(layout)) bucketChunks++;
  const back: Record<string, RecentEvent> = {};
  for (const [id, e] of decodeBucketAttributes(encodeBucketAttributes(entries, start, layout), start))
    Object.defineProperty(back, id, { value: e, enumerable: true, writable: true, configurable: true });
  return back;
};
/** Bucket adds the layout round trip stored as layout 4's chunks. */
let bucketChunks = 0;
/**
 * The DynamoDB adapter's billing (what decides which ids move; it makes no calls), in units of a
 * quarter of DynamoDB's: the generated entities are small, and few of them would pass a real unit
 * (ids move only where that saves units), so ids move in most scenarios instead of a tenth.
 */
const dynamoDbBilling = {
  ...(new DynamoDbEntityStore({ tableName: 'unused', writeLayout: LATEST_ITEM_LAYOUT })
    .writeUnits as NonNullable<EntityStore['writeUnits']>),
  unitBytes: 256,
};

/** What the generated scenarios exercised, summed over a property's runs (so a vacuous generator fails). */
interface Coverage extends DeliveryStats {
  scenarios: number;
  records: number;
  realConflicts: number;
  /** Id buckets written by moves of settled ids out of entity items. */
  idMoves: number;
  reshards: number;
  late: number;
  duplicates: number;
  quarantined: number;
  /** Offline rows of an event beyond its first, per group (rewrites under other batch boundaries). */
  repeatedOfflineRows: number;
  /** Records parked (an entity refused them for good), whole or for a group, then redriven. */
  parkedWhole: number;
  parkedForGroup: number;
  /** Of those for a group: parked because their write still failed past the park age (parkAfterMs). */
  parkedStuck: number;
  /** Entity items the layout round trip stored deflated (layout 3, past one write unit less 128 bytes). */
  itemsDeflated: number;
  /** Id bucket adds the layout round trip stored as one deflated chunk (layout 4). */
  bucketChunks: number;
  /** Offline objects parked (their put still failed past the park age), then put in place by redrive. */
  rowsParked: number;
  /** Records the mapping gave up on (MAX_AGE_MS), redriven as producer retries. */
  givenUp: number;
  /** Records parked whole as their authority had not decided them by the park age, then redriven. */
  parkedAgedOut: number;
  /**
   * Redrive copies that narrowed their entry in a delivery that failed them: mostly copies some
   * groups applied and others failed on (an outage), narrowed to those; a few narrowed as they
   * completed, then failed on a later write of the delivery.
   */
  narrowedFailing: number;
  /** Redrive copies the mapping gave up (throttled until then), then redriven as producer retries. */
  copiesGivenUp: number;
}

const emptyCoverage = (): Coverage => ({
  scenarios: 0,
  records: 0,
  invocations: 0,
  crashes: 0,
  partialFailures: 0,
  redeliveries: 0,
  replays: 0,
  bisections: 0,
  realConflicts: 0,
  idMoves: 0,
  reshards: 0,
  late: 0,
  duplicates: 0,
  quarantined: 0,
  repeatedOfflineRows: 0,
  parkedWhole: 0,
  parkedForGroup: 0,
  parkedStuck: 0,
  itemsDeflated: 0,
  bucketChunks: 0,
  rowsParked: 0,
  givenUp: 0,
  parkedAgedOut: 0,
  narrowedFailing: 0,
  copiesGivenUp: 0,
});

/** Runs a scenario to completion; resolves with the differences from the reference (none expected). */
async function run(scenario: StreamScenario, coverage: Coverage): Promise<string[]> {
  // A wall clock that follows the records' arrival, falling behind at each stall: moves are logged
  // and id buckets expire on it (the store deletes expired ones as DynamoDB's TTL would). Each
  // invocation has its own reading, made when it starts (shards run concurrently): at most the
  // stalls after the oldest record of its batch arrived, and never before its shard's last one. A
  // bucket expires on the clock of its entity's consumer. So a batch the schedule makes of records
  // that arrived days apart, or a shard left days behind another, is not a stall of days for its
  // entities: past the day and a half the reference models (longer ones raise the floor:
  // process-batch.test.ts). A final replay runs at the latest time reached.
  let wall = 0;
  const clockOfShard = new Map<string, number>();
  const clockOfKey = new Map<string, number>();
  let replaying = false;
  const outcomeOf = new Map<string, string>();
  // By lane, the records of its crashed invocations not delivered again since.
  const crashed = new Map<string, Set<string>>();
  // Records that failed in a delivery, not completed since (a crash is not counted: retried at once).
  const failedBefore = new Set<string>();
  let lag = 0;
  let invocation = 0;
  const entities = new InMemoryEntityStore({
    bucketClock: (bucket) => clockOfKey.get(bucket.entityId.slice(0, bucket.entityId.lastIndexOf('@'))) ?? 0,
  });
  const offline = new InMemoryOfflineSink();
  const side = new InMemorySideOutput();
  // The copies that narrowed their entry, by the invocation they did it in.
  const narrowings: string[] = [];
  const narrowParked = side.narrowParked.bind(side);
  side.narrowParked = (entries) => {
    narrowings.push(...entries.map((e) => e.by));
    return narrowParked(entries);
  };
  // Entity states come back as the DynamoDB adapter stores them (its item layout, its billing), so
  // the layout is checked under every fault schedule too.
  // Entities DynamoDB refuses for good while the stream is delivered (a ValidationException).
  const named = [
    ...new Set(
      scenario.sent.flatMap((s) =>
        s.kind === 'malformed'
          ? []
          : scenario.groups.map(
              (g) => `${g.name}#${String(s.fields[g.entity.field as keyof typeof s.fields])}`,
            ),
      ),
    ),
  ].sort();
  // An entity picked (`group#id`) by the n-th pick: with two merchant groups, an even pick of a
  // merchant takes its entity in both (its records parked for both).
  const picked = (names: readonly string[], n: number): string[] => {
    const name = names[n % names.length] as string;
    const entity = name.slice(name.indexOf('#'));
    return n % 2 === 0 && !name.startsWith(`${scenario.groups[0]?.name}#`)
      ? scenario.groups.slice(1).map((g) => `${g.name}${entity}`)
      : [name];
  };
  const poisoned = new Set(named.length ? scenario.poisoned.flatMap((n) => picked(named, n)) : []);
  const refused = (key: EntityKey) => poisoned.has(`${key.group}#${key.entityId}`);
  // Merchants whose writes fail for a while (scenario.outage), as under throttling. An outage that
  // lasts into a redrive round has a copy decided by its authority and parked again for the merchant:
  // the reference takes that record where the copy was decided (`decidedBy`), not where the copy of
  // a later round completed it (counterexamples until 2026-11-27: seeds -2145337727, 647804621 path
  // 335 and -1275298270 path 460; the processor was right).
  const merchantNames = named.filter((n) => !n.startsWith(`${scenario.groups[0]?.name}#`));
  const outage = new Set(
    scenario.outage && merchantNames.length
      ? scenario.outage.merchants.flatMap((n) => picked(merchantNames, n))
      : [],
  );
  /** The offline bucket as the outage leaves it, with `rows`: feature history refused, for now. */
  const historyRefused: OfflineSink = {
    append: async (batches) => {
      const ok = batches.filter((b) => !b.prefix.startsWith('features/group='));
      const results = await offline.append(ok);
      return batches.map((b) =>
        ok.includes(b)
          ? (results.shift() as PutResult)
          : { failed: new OfflineStoreError('refused', 'offline') },
      );
    },
    park: (batches) => offline.park(batches),
  };
  /** The store as the outage leaves it: its merchants' writes fail, for now. */
  const duringOutage = (store: EntityStore, failing: (key: EntityKey) => boolean): EntityStore => ({
    ...store,
    save: async (writes) => {
      const out = writes.map((w) => failing(w.key));
      const results = await store.save(writes.filter((_, i) => !out[i]));
      return writes.map((_, i) =>
        out[i] ? { failed: new OnlineStoreError('throttled', 'online') } : (results.shift() as SaveResult),
      );
    },
  });
  const counted: EntityStore = {
    load: async (keys) =>
      (await entities.load(keys)).map((stored, i) =>
        stored && !isIdBucketGroup((keys[i] as EntityKey).group)
          ? { ...stored, state: throughDynamoDbLayout(keys[i] as EntityKey, stored.state) }
          : stored,
      ),
    save: async (writes) => {
      // Judged once per call: a refusal lifted while the call is in flight (concurrent shards) must
      // not make a write it kept back look saved.
      const refusedNow = writes.map((w) => refused(w.key));
      const results = await entities.save(writes.filter((_, i) => !refusedNow[i]));
      coverage.realConflicts += results.filter((r) => r === 'conflict').length;
      return writes.map((_, i) =>
        refusedNow[i]
          ? { failed: new OnlineStoreError('refused', 'online', { permanent: true }) }
          : (results.shift() as SaveResult),
      );
    },
    addIds: async (writes) => {
      coverage.idMoves += writes.length;
      return entities.addIds(writes.map((w) => ({ ...w, entries: throughBucketLayout(w.key, w.entries) })));
    },
    writeUnits: dynamoDbBilling,
  };
  const base: ProcessorDeps = {
    contracts,
    groupsFedBy: () => scenario.groups,
    entities: counted,
    offline,
    sideOutput: side,
    tokenizer: testTokenizer,
    sleep: async () => {},
    // Deployed, an hour under the mapping's 23 h; here 2 h, so that the stalls (up to a day and a
    // half) often pass it: records that meet a fault then are parked for the group that failed, and
    // redriven below. The mapping gives records up at MAX_AGE_MS.
    parkAfterMs: 2 * 3_600_000,
  };
  const problems: string[] = [];
  let givingUp = true;
  // Copies of entries parked for some groups, and those of them whose last delivery failed in the
  // redrive's throttling with nothing else going wrong (scenario.redriveThrottled.givesUp).
  const forGroupsCopies = new Set<string>();
  const throttledOut = new Set<string>();
  const copiesPastAge = new Set<string>();
  // Invocations of the first redrive round so far (scenario.redriveThrottled), -1 outside it.
  let redriveInvocations = -1;
  /**
   * Past the maximum age by its lane's clock, and never tried: the lane fell that far behind before
   * reaching it. (One that failed is retried once more first, `outageOver`.)
   */
  const overAge = (r: InputRecord): boolean =>
    givingUp &&
    (clockOfShard.get(`${r.shardId}/${laneOf(r.partitionKey, scenario.parallelizationFactor)}`) ?? 0) -
      r.arrivalTime >=
      MAX_AGE_MS &&
    !failedBefore.has(r.recordId);
  const invoke: Invoke = async (records, delivery) => {
    // At most a day and a half behind in all: entity items (TTL in event time) and buckets stay.
    if (invocation === scenario.liftMerchantsAt)
      for (const key of poisoned) if (!key.startsWith(`${scenario.groups[0]?.name}#`)) poisoned.delete(key);
    const stall = scenario.stallsMs[invocation++] ?? 0;
    // A lane of a shard (ParallelizationFactor) runs on its own: one lane far ahead is no stall for
    // the entities of another.
    const first = records[0] as InputRecord;
    const shard = `${first.shardId}/${laneOf(first.partitionKey, scenario.parallelizationFactor)}`;
    // Lambda retries a crashed batch at once, whole or bisected: no time passes for its lane until
    // its records have been delivered again (a crash loop is assumed to end before the maximum
    // record age; deployed, a record decided at age a has 23 h - a). Nor while a record after a
    // failure in the retried part waits (the processor completes such records, step 6, in a
    // delivery Lambda makes at once; the harness's small batches may not reach them).
    const pendingCrash = crashed.get(shard);
    const crashedBefore = pendingCrash !== undefined && pendingCrash.size > 0;
    if (!crashedBefore) lag = Math.min(lag + stall, 36 * 3_600_000);
    const oldest = Math.min(...records.map((r) => r.arrivalTime)) + lag;
    // Never behind the clock its entities were last processed at (their id buckets expire on that):
    // the processor and the store then agree on what has expired. (A lane's clock may be, for a
    // retry of a given-up record, or a child shard's first batch.)
    const keysAt = Math.max(0, ...records.map((r) => clockOfKey.get(r.partitionKey) ?? 0));
    const at = replaying
      ? wall
      : crashedBefore
        ? (clockOfShard.get(shard) as number)
        : Math.max(clockOfShard.get(shard) ?? 0, oldest, keysAt);
    clockOfShard.set(shard, at);
    wall = Math.max(wall, at);
    // Lambda discards records past the maximum age before it invokes: given up, unprocessed. Those
    // before the first such are delivered; it and the rest fail (the mapping gives up the records
    // past the age from it on, and retries the others).
    // (A copy given up is past the maximum age on any later delivery, a replay's: given up again.)
    const cut = records.findIndex((r) => overAge(r) || copiesPastAge.has(r.recordId));
    if (cut === 0) return records.map((r) => r.sequenceNumber);
    const delivered = cut < 0 ? records : records.slice(0, cut);
    for (const { partitionKey } of delivered)
      clockOfKey.set(partitionKey, Math.max(clockOfKey.get(partitionKey) ?? 0, at));
    const discarded = cut < 0 ? [] : records.slice(cut).map((r) => r.sequenceNumber);
    // A record that failed and is past the maximum age here stands for the retries Lambda made
    // meanwhile, without pause (the harness's clock jumps): the outage is assumed to end within the
    // maximum age, so they meet no fault. (One lasting that long may give a decided record up half
    // applied: a side-output put, or DynamoDB's reads, failing until then; README, "Guarantees" 6.)
    const outageOver = delivered.some(
      (r) => at - r.arrivalTime >= MAX_AGE_MS && failedBefore.has(r.recordId),
    );
    const faults = outageOver ? {} : delivery.faults;
    let inRedriveOutage = false;
    const crash = () => {
      const set = crashed.get(shard) ?? new Set<string>();
      for (const r of delivered) set.add(r.recordId);
      crashed.set(shard, set);
    };
    if (delivery.lostResponse) crash();
    let result: Awaited<ReturnType<typeof processBatch>>;
    try {
      const inOutage = !outageOver && invocation <= (scenario.outage?.until ?? 0);
      // In the first redrive's first invocations (redriveThrottled): the first merchant group's table
      // throttled, every entity of it, so that a copy for two merchant groups is applied by one only.
      // (Not while the stream's outage lasts: its failures, rows refused say, are not the throttling's.)
      inRedriveOutage =
        !inOutage &&
        scenario.redriveThrottled !== null &&
        redriveInvocations >= 0 &&
        redriveInvocations++ < 2;
      const deps = inOutage
        ? {
            ...base,
            entities: duringOutage(counted, (key) => outage.has(`${key.group}#${key.entityId}`)),
            ...(scenario.outage?.rows ? { offline: historyRefused } : {}),
          }
        : inRedriveOutage
          ? { ...base, entities: duringOutage(counted, (key) => key.group === scenario.groups[1]?.name) }
          : base;
      result = await processBatch(delivered, { ...faultyDeps(deps, faults), now: () => at });
    } catch (error) {
      if (error instanceof InjectedCrash) crash();
      throw error;
    }
    const failed = new Set(result.failed);
    // Copies for some groups that failed in the redrive's throttling and nothing else (givesUp).
    const throttledOnly =
      inRedriveOutage &&
      !delivery.lostResponse &&
      Object.entries(faults).every(
        ([k, v]) => k === 'yields' || v === false || (Array.isArray(v) && v.length === 0),
      );
    for (const r of delivered)
      if (throttledOnly && failed.has(r.sequenceNumber) && forGroupsCopies.has(r.recordId))
        throttledOut.add(r.recordId);
      else throttledOut.delete(r.recordId);
    for (const by of narrowings.splice(0))
      if (failed.has(sequenceOf(by)) && delivered.some((r) => r.recordId === by)) coverage.narrowedFailing++;
    for (const r of delivered)
      if (failed.has(r.sequenceNumber)) failedBefore.add(r.recordId);
      else failedBefore.delete(r.recordId);
    if (pendingCrash && !delivery.lostResponse) {
      for (const r of delivered) pendingCrash.delete(r.recordId);
      if (pendingCrash.size === 0) crashed.delete(shard);
    }
    for (const [id, o] of result.outcomes) outcomeOf.set(id, o);
    problems.push(...resultContractViolations(delivered, result.failed, result.outcomes));
    return [...result.failed, ...discarded];
  };
  const { parallelizationFactor } = scenario;
  // The mapping gives up the records past the maximum age (overAge), to its on-failure destination.
  const givenUp: InputRecord[] = [];
  // When, by its lane's clock (a redrive sends it back soon after).
  const gaveUpAt = new Map<string, number>();
  const stats = await deliverAll(scenario.shards, {
    parallelizationFactor,
    schedule: new DeliverySchedule(scenario.schedule, scenario.calmBatchSize),
    invoke,
    givesUp: overAge,
    onGiveUp: (rs) => {
      givenUp.push(...rs);
      for (const r of rs)
        gaveUpAt.set(
          r.recordId,
          clockOfShard.get(`${r.shardId}/${laneOf(r.partitionKey, parallelizationFactor)}`) ?? r.arrivalTime,
        );
    },
  });
  givingUp = false;
  coverage.givenUp += givenUp.length;
  // npm run redrive sends what the mapping gave up back into the stream as it was sent: each a
  // producer retry of itself (a new record of the same payload), on a shard of its own.
  const retries: { original: InputRecord; retry: InputRecord }[] = [];
  // What completed in the mapping's own deliveries (before any retry was sent).
  const completedBeforeGiveUp = new Set(outcomeOf.keys());
  if (givenUp.length > 0) {
    const shardId = 'shardId-giveup00000';
    // Sent a minute after it was given up, or after its entity was last processed if that was later
    // (not after the whole stream: the clock of its entities would jump days, past their id buckets'
    // expiry, which the reference does not model).
    let arrival = 0;
    lag = 0;
    let sequence = REDRIVE_SEQUENCE;
    const records = givenUp.map((g) => {
      sequence += 10n;
      arrival = Math.max(
        arrival,
        (gaveUpAt.get(g.recordId) as number) + 60_000,
        (clockOfKey.get(g.partitionKey) ?? 0) + 60_000,
      );
      const r: InputRecord = {
        ...g,
        recordId: `${shardId}:${sequence}`,
        shardId,
        sequenceNumber: String(sequence),
        arrivalTime: arrival,
      };
      retries.push({ original: g, retry: r });
      return r;
    });
    const resent = await deliverAll([{ shardId, records, parents: [] }], {
      parallelizationFactor: 1,
      schedule: new DeliverySchedule(scenario.schedule.slice(-10), scenario.calmBatchSize),
      invoke,
    });
    for (const key of Object.keys(resent) as (keyof DeliveryStats)[]) coverage[key] += resent[key];
  }
  // The cause fixed, every parked record is redriven as `npm run redrive` does (in key order, each
  // wrapped for the processor to complete its entry) on a shard of its own, delivered under the same
  // kinds of trouble. A copy that meets a fault past the park age is parked again (parkAfterMs),
  // and the steward redrives again: a few rounds, each sent once the consumer has caught up.
  poisoned.clear();
  // The record that carried each parked record back, by the parked record.
  const resentAs = new Map<string, string>();
  // Records parked whole in the stream (their copies decide them, in redrive order).
  const parkedWhole: string[] = [];
  // The copy whose delivery its authority decided a record parked whole by: the first after which
  // its entry is no longer parked whole (completed, or parked again for a group whose write failed,
  // its authority's decision taken). A copy refused again whole leaves it to the next round's.
  const decidedBy = new Map<string, string>();
  const recordIdOfSent = new Map(
    scenario.shards.flatMap((sh) => sh.records.map((r) => [sentIndexOf(r), r.recordId] as const)),
  );
  let redriveSequence = REDRIVE_SEQUENCE;
  // Copies refused again (their entry still parked at the next round): each is a duplicate of the
  // record it carries, which the copy of a later round accounts for.
  const sentCopies = new Map<string, string>();
  const refusedCopies = new Set<string>();
  // The copies the mapping gave up in a round (throttled until then), to be sent again with the next
  // (as `npm run redrive` of the on-failure destination does: a producer retry of each), by entry.
  let givenUpCopies: { key: string; copy: InputRecord }[] = [];
  // The copies of one entry in every round (its own, and the retries of its copies given up: a replay
  // may deliver a given-up copy again, completed then, or given up again): one completes the entry,
  // each other is a duplicate of it (one record more, not in the reference). By entry.
  const allCopiesOfKey = new Map<string, Set<string>>();
  const keyOfCopy = new Map<string, string>();
  let copiesOfKey = new Map<string, Set<string>>();
  for (let round = 0; round < 5; round++) {
    redriveInvocations = round === 0 ? 0 : -1;
    const parked = [...side.entries]
      .filter(([, e]) => e.kind === 'parked')
      .sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [key] of parked) for (const copy of copiesOfKey.get(key) ?? []) refusedCopies.add(copy);
    copiesOfKey = new Map();
    const copyOf = (key: string, recordId: string) => {
      copiesOfKey.set(key, (copiesOfKey.get(key) ?? new Set<string>()).add(recordId));
      allCopiesOfKey.set(key, (allCopiesOfKey.get(key) ?? new Set<string>()).add(recordId));
      keyOfCopy.set(recordId, key);
    };
    if (parked.length === 0 && givenUpCopies.length === 0) break;
    if (round === 0) {
      parkedWhole.push(...parked.filter(([, e]) => !e.groups).map(([, e]) => e.recordId));
      coverage.parkedWhole += parked.filter(([, e]) => !e.groups).length;
      coverage.parkedForGroup += parked.filter(([, e]) => e.groups).length;
      coverage.parkedAgedOut += parked.filter(([, e]) =>
        e.reason.includes('entity came to decide it'),
      ).length;
      coverage.parkedStuck += parked.filter(([, e]) =>
        e.reason.includes('still could not be written when the record was'),
      ).length;
    }
    const shardId = 'shardId-redrive0000';
    const arrival = Math.max(...scenario.sent.map((s) => s.arrivalTime), wall) + 60_000;
    lag = 0;
    const retried = givenUpCopies.map(({ key, copy }) => {
      redriveSequence += 10n;
      const sequenceNumber = String(redriveSequence);
      const recordId = `${shardId}:${sequenceNumber}`;
      copyOf(key, recordId);
      forGroupsCopies.add(recordId);
      return { ...copy, recordId, sequenceNumber, arrivalTime: arrival };
    });
    givenUpCopies = [];
    const records: InputRecord[] = parked.map(([key, e]) => {
      redriveSequence += 10n;
      const sequenceNumber = String(redriveSequence);
      resentAs.set(e.recordId, `${shardId}:${sequenceNumber}`);
      sentCopies.set(key, `${shardId}:${sequenceNumber}`);
      copyOf(key, `${shardId}:${sequenceNumber}`);
      if (e.groups) forGroupsCopies.add(`${shardId}:${sequenceNumber}`);
      return {
        recordId: `${shardId}:${sequenceNumber}`,
        shardId,
        sequenceNumber,
        partitionKey: e.partitionKey,
        arrivalTime: arrival,
        data: Buffer.from(completionEnvelope(key, Buffer.from(e.data, 'base64'))).toString('base64'),
      };
    });
    const redriven = await deliverAll([{ shardId, records: [...retried, ...records], parents: [] }], {
      parallelizationFactor: 1,
      schedule: new DeliverySchedule(scenario.schedule.slice(-10), scenario.calmBatchSize),
      invoke,
      givesUp: (r) =>
        copiesPastAge.has(r.recordId) ||
        (scenario.redriveThrottled?.givesUp === true && throttledOut.has(r.recordId)),
      onGiveUp: (rs) => {
        for (const r of rs) {
          copiesPastAge.add(r.recordId);
          givenUpCopies.push({ key: keyOfCopy.get(r.recordId) as string, copy: r });
        }
        coverage.copiesGivenUp += rs.length;
      },
    });
    for (const key of Object.keys(redriven) as (keyof DeliveryStats)[]) coverage[key] += redriven[key];
    for (const [key, e] of parked) {
      const now = side.entries.get(key);
      if (!decidedBy.has(e.recordId) && (now?.kind !== 'parked' || now.groups))
        decidedBy.set(e.recordId, sentCopies.get(key) as string);
    }
  }
  if (side.ofKind('parked').length > 0) problems.push(`${side.ofKind('parked').length} parked entries left`);
  // The same redrive puts the offline objects the processor parked in place.
  coverage.rowsParked += offline.redriveParked();
  for (const [key, e] of side.entries)
    if (
      e.kind === 'duplicate' &&
      (refusedCopies.has(e.recordId) ||
        [...(allCopiesOfKey.get(keyOfCopy.get(e.recordId) ?? '') ?? [])].some(
          (t) => t !== e.recordId && e.reason.endsWith(` record ${t}`),
        ))
    )
      side.entries.delete(key);
  const decidedIds = new Set(
    [...entities.items.values()].flatMap((v) => Object.values(v.state.recent ?? {}).map((e) => e.r)),
  );
  // Given-up records their authority had decided (completed, or with a side output of their own,
  // parked or not, or owning the event their retry was a duplicate of): the retry is one more record.
  const decidedBeforeGiveUp = new Set(
    retries
      .filter(
        ({ original, retry }) =>
          completedBeforeGiveUp.has(original.recordId) ||
          // Completed but reported failed (after the batch's first failure), or given up half applied:
          // its authority holds its decision, or it wrote rows (stamped with its own arrival).
          decidedIds.has(original.recordId) ||
          // (A producer retry in the stream shares its original's arrival time here: not those.)
          (scenario.sent[sentIndexOf(original)]?.kind === 'event' &&
            scenario.groups.some((g) =>
              offline
                .rows(g.name, g.entity.name)
                .some(
                  (row) => row.ingestionTime === original.arrivalTime && row.eventId === eventIdOf(original),
                ),
            )) ||
          [...side.completed.values()].some((e) => e.recordId === original.recordId) ||
          [...side.entries.values()].some(
            (e) =>
              e.recordId === original.recordId ||
              (e.recordId === retry.recordId &&
                e.kind === 'duplicate' &&
                e.reason.endsWith(` record ${original.recordId}`)),
          ),
      )
      .map(({ original }) => original.recordId),
  );
  if (scenario.finalReplay) {
    // Every checkpoint lost: the whole stream again, from each shard's start. Nothing may change online.
    // (Id buckets may expire meanwhile: the online store is the entity items.)
    const online = () =>
      [...entities.items].filter(([key]) => !isIdBucketGroup(key.slice(0, key.indexOf('#'))));
    const before = structuredClone(online());
    replaying = true;
    await deliverAll(scenario.shards, {
      parallelizationFactor,
      schedule: new DeliverySchedule([], scenario.calmBatchSize + 3),
      invoke,
    });
    // A record given up and retried is, replayed, a duplicate of its retry: its entities take its
    // position as processed and its authority keeps the decision (checkpoints and ids change); the
    // features do not.
    const withoutCheckpoints = (items: ReturnType<typeof online>) =>
      givenUp.length === 0
        ? items
        : items.map(
            ([k, v]) =>
              [
                k,
                { latest: v.state.latest, tiles: v.state.tiles, maxEventTime: v.state.maxEventTime },
              ] as const,
          );
    if (!isDeepStrictEqual(withoutCheckpoints(online()), withoutCheckpoints(before)))
      problems.push('replaying the whole stream changed the online store');
    // Its outcome there (a duplicate of the retry, late, quarantined) is accounted for by the retry.
    const undecided = new Set(givenUp.map((g) => g.recordId).filter((id) => !decidedBeforeGiveUp.has(id)));
    for (const [key, e] of side.entries)
      if (e.kind !== 'parked' && undecided.has(e.recordId)) side.entries.delete(key);
    // A record parked whole is, replayed after its redrive, a duplicate (of the record that carried
    // it back, or of what that record was a duplicate of): it is accounted for once, by that record.
    for (const [key, e] of side.entries)
      if (e.kind === 'duplicate' && resentAs.has(e.recordId)) side.entries.delete(key);
  }

  for (const key of Object.keys(stats) as (keyof DeliveryStats)[]) coverage[key] += stats[key];
  coverage.scenarios++;
  coverage.records += scenario.sent.length;
  coverage.reshards += scenario.shards.some((s) => s.parents.length > 0 && s.records.length > 0) ? 1 : 0;
  coverage.late += side.ofKind('late').length;
  coverage.duplicates += side.ofKind('duplicate').length;
  coverage.quarantined += side.ofKind('quarantine').length;
  for (const g of scenario.groups) {
    const rows = offline.rows(g.name, g.entity.name);
    coverage.repeatedOfflineRows += rows.length - new Set(rows.map((r) => r.eventId)).size;
  }
  return [
    ...problems,
    ...differencesFromReference(
      referenceSent(
        scenario.sent,
        (i) => recordIdOfSent.get(i),
        retries,
        (original) => decidedBeforeGiveUp.has(original),
        finalOutcome(outcomeOf, resentAs),
        // In the order of the copies that decided them.
        parkedWhole.sort((a, b) =>
          compareSequence(sequenceOf(decidedBy.get(a)), sequenceOf(decidedBy.get(b))),
        ),
        problems,
      ),
      scenario.groups,
      {
        entities,
        offline,
        side,
      },
    ),
  ];
}

/** The sequence number of a record id (`<shard>:<sequence>`), or '0'. */
const sequenceOf = (recordId: string | undefined): string => recordId?.split(':')[1] ?? '0';

/** The event id a record carries, if any. */
const eventIdOf = (r: InputRecord): string | undefined => {
  try {
    return (JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')) as { event?: { eventId?: string } })
      .event?.eventId;
  } catch {
    return undefined;
  }
};

/**
 * A record's outcome in the end: one parked whole (quarantined until redriven) has the outcome of the
 * copy that completed it.
 */
const finalOutcome =
  (outcomeOf: ReadonlyMap<string, string>, resentAs: ReadonlyMap<string, string>) =>
  (recordId: string): string | undefined => {
    let id = recordId;
    for (let hops = 0; hops < 10; hops++) {
      const o = outcomeOf.get(id);
      const next = resentAs.get(id);
      if (o !== 'quarantined' || !next) return o;
      id = next;
    }
    return undefined;
  };

/**
 * The mapping's maximum record age (deployed 23 h, an hour after the park age). Here 24 h, 22 after
 * the park age: the stalls reach a day and a half, and a record they take past this age unfailed is
 * given up unprocessed, one that failed before the park age is retried once more (the park window),
 * so that most scenarios with records past the park age still meet it.
 */
const MAX_AGE_MS = 24 * 3_600_000;

/**
 * What was sent, in the order its authorities decided it, as the reference is to see it:
 * - the stream's records in send order (per partition key, the order they reach the processor);
 * - then the retries of given-up records (`npm run redrive` of the on-failure destination), in retry
 *   order: a retry decided afresh (its original never was) takes its original's place; one that is a
 *   duplicate, or quarantined again, is one more record;
 * - then the records parked whole (an entity refused for good, or not decided by the park age), in
 *   the order their redrive copies were sent: each is decided as its copy (a producer retry of it).
 */
function referenceSent(
  sent: readonly Sent[],
  /** The record id of each sent record in the stream. */
  recordIdOf: (i: number) => string | undefined,
  retries: readonly { readonly original: InputRecord; readonly retry: InputRecord }[],
  /** Whether the authority decided the original before it was given up (its retry is then one more). */
  decided: (original: string) => boolean,
  outcomeOf: (recordId: string) => string | undefined,
  /** Records parked whole, in the order their copies were redriven. */
  parkedWhole: readonly string[],
  problems: string[],
): Sent[] {
  const inStream: ({ sent: Sent; by: string | undefined } | undefined)[] = sent.map((s, i) => ({
    sent: s,
    by: recordIdOf(i),
  }));
  const retried: { sent: Sent; by: string }[] = [];
  for (const { original, retry } of retries) {
    const i = sentIndexOf(original);
    if (i < 0 || !outcomeOf(retry.recordId)) {
      problems.push(`given-up ${original.recordId}: its retry has no outcome`);
      continue;
    }
    // Never decided: its first retry takes its place. Decided (or retried already): one more.
    if (!decided(original.recordId) && inStream[i]?.by === original.recordId) inStream[i] = undefined;
    const o = sent[i] as Sent;
    // An event time too far ahead of its arrival is not, retried hours later: the event is taken then.
    const future =
      o.kind === 'malformed' && o.variant === 'future' && outcomeOf(retry.recordId) !== 'quarantined';
    retried.push({
      sent: future
        ? {
            kind: 'event',
            fields: (JSON.parse(o.payload) as { event: TransactionFields }).event,
            arrivalTime: o.arrivalTime,
          }
        : o,
      by: retry.recordId,
    });
  }
  const whole = new Map(parkedWhole.map((id, n) => [id, n]));
  const redriven: Sent[] = [];
  const decidedThen = (
    slot: { sent: Sent; by: string | undefined } | undefined,
  ): slot is { sent: Sent; by: string } => {
    if (!slot) return false;
    const n = slot.by === undefined ? undefined : whole.get(slot.by);
    if (n === undefined) return true;
    redriven[n] = slot.sent;
    return false;
  };
  return [
    ...inStream.filter(decidedThen).map((slot) => slot.sent),
    ...retried.filter(decidedThen).map((slot) => slot.sent),
    ...redriven.filter((r) => r !== undefined),
  ];
}

/** Sequence numbers of the redrive shards (after any of the scenarios'). */
const REDRIVE_SEQUENCE = 59_000_000_000_000_000_000_000_000_000_000_000_000_000_000n;

/** The batch result's own contract: `failed` is every record from the first failed one; the rest have outcomes. */
function resultContractViolations(
  records: readonly InputRecord[],
  failed: readonly string[],
  outcomes: ReadonlyMap<string, unknown>,
): string[] {
  const sorted = [...records].sort((a, b) => compareSequence(a.sequenceNumber, b.sequenceNumber));
  const cut = failed.length === 0 ? sorted.length : sorted.findIndex((r) => r.sequenceNumber === failed[0]);
  const suffix = sorted.slice(Math.max(cut, 0)).map((r) => r.sequenceNumber);
  const completed = sorted.slice(0, Math.max(cut, 0)).map((r) => r.recordId);
  if (cut < 0 || JSON.stringify(suffix) !== JSON.stringify(failed))
    return [`failed ${JSON.stringify(failed)} is not the batch from its first failed record on`];
  if (completed.some((id) => !outcomes.has(id)) || outcomes.size !== completed.length)
    return ['outcomes do not cover exactly the completed records'];
  return [];
}

/**
 * `EXACTLY_ONCE_RUNS=10` runs ten times as many scenarios (a soak); the seed and path are printed on
 * failure, and `EXACTLY_ONCE_SEED=<seed> EXACTLY_ONCE_PATH=<path>` replays that counterexample.
 * `EXACTLY_ONCE_NO_SHRINK=1` reports the first counterexample as found (shrinking can take minutes);
 * `EXACTLY_ONCE_STATS=1` prints each property's coverage counts.
 */
const RUNS_FACTOR = Number(process.env.EXACTLY_ONCE_RUNS ?? 1);
/** Each property takes a few seconds here; the unit project's 5 s default is too tight for a busy CI runner. */
const TIMEOUT_MS = 120_000 * RUNS_FACTOR;

async function checkProperty(shape: ScenarioShape, numRuns: number): Promise<Coverage> {
  const coverage = emptyCoverage();
  const deflatedBefore = itemsDeflated;
  const chunksBefore = bucketChunks;
  await fc.assert(
    fc.asyncProperty(streamScenario(shape), async (scenario) => {
      expect(await run(scenario, coverage)).toEqual([]);
    }),
    {
      numRuns: numRuns * RUNS_FACTOR,
      // EXACTLY_ONCE_NO_SHRINK=1 ends at the first counterexample, unshrunk (shrinking one can take minutes).
      ...(process.env.EXACTLY_ONCE_NO_SHRINK ? { endOnFailure: true } : {}),
      // Replays one counterexample: EXACTLY_ONCE_SEED and EXACTLY_ONCE_PATH as fast-check printed them.
      ...(process.env.EXACTLY_ONCE_SEED
        ? {
            seed: Number(process.env.EXACTLY_ONCE_SEED),
            path: process.env.EXACTLY_ONCE_PATH,
            endOnFailure: true,
          }
        : {}),
    },
  );
  coverage.itemsDeflated = itemsDeflated - deflatedBefore;
  coverage.bucketChunks = bucketChunks - chunksBefore;
  if (process.env.EXACTLY_ONCE_STATS) console.info(JSON.stringify(coverage));
  return coverage;
}

/** Each kind of trouble happened somewhere in the runs: the property was not checked on calm streams only. */
const expectTroubleEverywhere = (c: Coverage) => {
  expect(c.records / c.scenarios).toBeGreaterThan(20);
  for (const k of ['crashes', 'partialFailures', 'redeliveries', 'replays', 'bisections'] as const)
    expect(c[k], k).toBeGreaterThan(c.scenarios / 10);
  for (const k of ['late', 'duplicates', 'quarantined'] as const)
    expect(c[k], k).toBeGreaterThan(c.scenarios);
  // Settled ids moved from entity items to id buckets, under all of the above.
  expect(c.idMoves, 'idMoves').toBeGreaterThan(c.scenarios / 3);
  // Items went through layout 3's deflated attributes (a busy entity's item passes a write unit).
  expect(c.itemsDeflated, 'itemsDeflated').toBeGreaterThan(c.scenarios / 10);
  // Moved ids went through layout 4's bucket chunks, in buckets that hold adds of other layouts too.
  expect(c.bucketChunks, 'bucketChunks').toBeGreaterThan(c.scenarios / 12);
  // Records parked by an entity DynamoDB refused, then redriven.
  expect(c.parkedWhole, 'parkedWhole').toBeGreaterThan(c.scenarios / 10);
  // Records their authority had not decided by the park age: parked whole, then redriven.
  expect(c.parkedAgedOut, 'parkedAgedOut').toBeGreaterThan(c.scenarios);
  // Offline objects parked (their put failed past the park age), then put in place. Measured per
  // scenario on 2026-11-27 (after the give-up model): one shard 2.9 % (58 of 2,000), concurrent shards
  // 3.5 % (53 of 1,500), parallelization 2.7 % (40 of 1,500), three groups 4.3 % (129 of 3,000). The
  // runs below are sized so that none has none more than about once in 10^5 (the one-shard property
  // at 200 runs had none in a clean-clone CI run: about once in 370).
  expect(c.rowsParked, 'rowsParked').toBeGreaterThan(0);
};

describe('exactly-once effect under everything Lambda and Kinesis do (property)', () => {
  it(
    'matches the batch recomputation on one shard with customer and merchant groups, whatever fails',
    async () => {
      const coverage = await checkProperty(
        {
          groups: [customerGroup, merchantGroup],
          maxShards: 1,
          maxParallelization: 1,
          reshard: false,
          maxRecords: 100,
        },
        400,
      );
      expectTroubleEverywhere(coverage);
      expect(coverage.parkedForGroup).toBeGreaterThan(coverage.scenarios / 10);
      expect(coverage.givenUp, 'givenUp').toBeGreaterThan(coverage.scenarios);
    },
    TIMEOUT_MS,
  );

  it(
    'matches the batch recomputation across concurrent shards and a split or merge, with merchants fed by every shard',
    async () => {
      const coverage = await checkProperty(
        {
          groups: [customerGroup, merchantGroup],
          maxShards: 3,
          maxParallelization: 1,
          reshard: true,
          maxRecords: 100,
        },
        // Records parked for a merchant by age (mostly in an outage across a stall) came to 89 to 144
        // per 1,200 scenarios in three soaks (2026-11-27), so none in 350 is far out of reach; the
        // other coverage counts failed none of 20,000 resamples of 300 from 3,000 measured (before).
        350,
      );
      expectTroubleEverywhere(coverage);
      expect(coverage.parkedForGroup).toBeGreaterThan(coverage.scenarios / 10);
      // Records parked by age (their write still failing past parkAfterMs), then redriven.
      expect(coverage.parkedStuck, 'records parked by age').toBeGreaterThan(0);
      expect(coverage.reshards).toBeGreaterThan(coverage.scenarios / 3);
      expect(coverage.realConflicts).toBeGreaterThan(0);
      expect(coverage.givenUp, 'givenUp').toBeGreaterThan(coverage.scenarios);
    },
    TIMEOUT_MS,
  );

  // Two groups besides the authority: a redrive copy that one of them applies and the other fails on
  // narrows its entry in that delivery, and given up then, its retry applies it to the other alone
  // (without the narrowing, the first group applied it again: double counts after 29 and 159 scenarios
  // in two runs).
  // Measured on 2026-11-27 over 1,080 scenarios: 4.7 % narrow a failing copy, 3.3 % give copies up;
  // at 300 runs, none about once in 10^5.
  it(
    'matches the batch recomputation with two groups besides the authority, across concurrent shards and a split or merge',
    async () => {
      const coverage = await checkProperty(
        {
          groups: [customerGroup, merchantGroup, merchantMirrorGroup],
          maxShards: 3,
          maxParallelization: 1,
          reshard: true,
          maxRecords: 100,
        },
        300,
      );
      expectTroubleEverywhere(coverage);
      expect(coverage.parkedForGroup).toBeGreaterThan(coverage.scenarios / 10);
      expect(coverage.narrowedFailing, 'copies narrowed as they failed').toBeGreaterThan(0);
      expect(coverage.copiesGivenUp, 'copies given up').toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );

  it(
    'matches the batch recomputation with a parallelization factor up to 10 when every group is keyed by the partition key',
    async () => {
      const coverage = await checkProperty(
        {
          groups: [customerGroup],
          maxShards: 2,
          maxParallelization: 10,
          reshard: true,
          maxRecords: 100,
        },
        // Bucket chunks are rarer here (one group: fewer busy items): 150 scenarios had too few about
        // once in 600 runs (resampled from 1,500 measured), 300 twice in 10^5; offline objects parked
        // want 430 (above).
        430,
      );
      expectTroubleEverywhere(coverage);
      expect(coverage.reshards).toBeGreaterThan(coverage.scenarios / 3);
      expect(coverage.givenUp, 'givenUp').toBeGreaterThan(coverage.scenarios);
    },
    TIMEOUT_MS,
  );
});
