/**
 * One batch of stream records -> entity states (online), feature history (offline) and side
 * outputs, exactly once in effect. Every record ends in exactly one outcome: applied, duplicate,
 * quarantined or late.
 *
 * Why it is exactly once (the argument, step by step):
 * 1. Kinesis keeps order per partition key, and producers must key records by the contract's
 *    `partitionKeyField` (others are quarantined). The group keyed by that field is the event's
 *    *authority*: its entity sees all of that key's records, in order, under any parallelization
 *    factor, bisect or resharding (Lambda finishes a parent shard before its children).
 * 2. Each entity item remembers, per source shard, the last record it processed. A redelivered
 *    record (whole batch, partial batch after a failure, a bisected half, a crash after some writes)
 *    is at or before that checkpoint and changes nothing; a new one is after it.
 * 3. The authority entity decides once per event, and stores the decision with the event id for the
 *    lateness horizon: a producer retry (same event id, new record) is a duplicate; the event is late
 *    for a group if its time is before the authority's watermark (newest event time minus the
 *    group's allowed lateness). Decisions depend only on the authority's ordered history, so every
 *    delivery of a record reaches the same one, and a redelivery re-reads it instead of re-deciding.
 *    A decision is saved in the entity item with the events it decides; a later batch may move it,
 *    once settled, to the id bucket of the event's second (id-buckets.ts; a retry carries its
 *    original's event time), writing the bucket before the item that drops it. An event is its id
 *    within the second of its event time. A record's bucket is read only if the item's move log says
 *    ids of its second may have moved there, or if the item is gone.
 *    So that this holds whatever the batch boundaries: an id counts as seen only within the horizon
 *    (pruned yet or not), within a batch as across batches; and a batch never prunes the ids of its
 *    own records, which stay readable until a later batch changes the entity (by then, step 6, they
 *    completed).
 * 4. Other groups' entities (e.g. a merchant, fed by many customers) apply the authority's decisions
 *    and skip records at or before their own per-shard checkpoint. This needs records of one shard
 *    in order for that entity, which holds with ParallelizationFactor 1 (enforced by the platform
 *    config when such groups exist).
 * 5. Each entity is written once per batch, whole, on the condition that its version is the one
 *    read (optimistic concurrency): concurrent batches of other shards re-read and recompute. Ids
 *    it moves out are added to their buckets just before (blind, idempotent adds).
 * 6. Lambda redelivers from the first record that did not complete, and steps 2-3 make the rest
 *    no-ops. Later records still complete where they can: an entity of another group applies the
 *    ones decided after the failure too, and goes past an undecided one (its authority failed) as a
 *    *hole* (step 7), which it applies when the record comes again and its authority takes it; their
 *    rows are written, since offline and side-output objects are named after their records, so
 *    rewriting them is harmless, and so is the entry of one parked for a group (step 7; a redelivery
 *    that applies it to the group takes the group off). So a record failing for a day holds back no
 *    later record of its batch but a copy completing an entry parked for some groups (whose entry
 *    stays, for the next redrive): given up with it by the mapping, they would stay half applied
 *    (decided and applied by their authorities), which no redrive could finish. Entries of records
 *    parked whole are written before the first failure only.
 * 7. A failure that every retry would meet again (ports.ts `isPermanent`: an entity item DynamoDB
 *    refuses, a computation that throws on an entity's data) does not fail the batch, which would
 *    hold up the shard until its records expire; nor does one of a group that is not the records'
 *    authority once they near the age the mapping gives up at (`parkAfterMs`: given up, they would
 *    stay half applied). Nor does an authority decide a record that old (`parkAfterMs`) that it has not
 *    decided yet: decided so late, a crash or a failure ahead of it until the mapping gives it up
 *    would leave it half applied. It parks it whole instead, keeping it as a hole should it go past
 *    it (a later record of its entity and shard), so that a redelivery parks it again rather than
 *    take it for decided, and one delivered again after it went past it in a later batch (a
 *    replayed stream) is found still parked by its entry (`parkedBefore`), not a duplicate. A redrive
 *    copy too, its age counting from its redrive (one completing an entry is then refused again, a
 *    duplicate of the record it carries, its entry kept); not a record that applies nothing anywhere
 *    (a duplicate, late for every group), decided at any age where it stands. A copy completing an
 *    entry for some groups that some of them applied and others failed on (an outage) narrows the
 *    entry to the others as it fails, once the rows of those that applied are written: given up with
 *    its batch, the next redrive's copy applies it to the others alone.
 *    The records concerned are *parked* (a `parked` side
 *    output with the reason and the payload) and the batch goes on. Only the records the entity has
 *    not processed yet are parked (a redelivery's earlier ones stay done for it; an authority reads
 *    their decisions back). An authority entity fails before anything of them is written, so they
 *    are parked whole; another group's entity fails after their authority decided them, so they are
 *    parked for that group only (`groups`). Entries are written last (after every other write), in
 *    order: one for a record parked whole only before the first failure (an entry must not name a
 *    record that a redelivery then applies), one for a group after it too unless a write of the
 *    record's own failed (a redelivery that applies it to the group takes the group off first, as
 *    below; given up, nothing else would finish it). A park is no failure, so other groups'
 *    entities apply the records after a parked one: an entity going past a record its authority parked whole keeps it as a
 *    *hole* (`holeTtlMs`, by its own shard's clock), and applies it should it come again and its
 *    authority take it then (a later failure before it, a replayed stream), in whichever delivery
 *    that is.
 *    Conversely an entity that applies a record decided in an earlier delivery (that delivery may
 *    have parked it for the entity and lost its answer) takes its group off the record's entry
 *    before it is saved (and is not saved if that fails). An entity also remembers the redrive copies
 *    it applies (as long as holes): a copy that narrowed its entry to the group (parked for it) and
 *    comes again is applied unless the entity has, whatever its checkpoint, which a later record of
 *    the copy's shard may have taken past it meanwhile. A
 *    redrive (offline/redrive/) sends each back wrapped with its entry's key, and the first copy that
 *    names the entry's bytes completes it, while it is not completed: one parked whole is decided as
 *    a producer retry of it would be, one parked for a group is applied to that group alone (its
 *    authority decided it already). The entities it reaches also take the parked record's own
 *    position in its shard as done (every record of that shard before it was applied or parked), so
 *    a replay of the shard skips it. The entry then moves to parked-done/, naming the copy and the
 *    bytes: a redelivery of that copy has its outcome again, any other copy of those bytes (in the
 *    same batch as the first, or later) is a duplicate of it, whatever its authority still remembers
 *    (its item may have expired since), and a copy of other bytes is decided by its authority.
 * 8. Rows, likewise: an offline object the offline bucket still refuses once one of its records
 *    nears that age (`parkAfterMs`) is parked whole (OfflineSink.park: in the side-output bucket
 *    under parked-rows/ and its offline key, under that bucket's key, as its dataset's may be what
 *    failed), and counts as written.
 *    Given up instead, its records would stay applied online with no history, which no redrive could
 *    write (their copies are duplicates). `npm run redrive` puts it in place; it is named after its
 *    batch, so putting it twice, or next to an object a replay wrote, changes nothing.
 */
import { randomBytes } from 'node:crypto';
import type { EventContract, FeatureGroup } from '../../schemas/index.js';
import { perDefinition } from '../../schemas/per-definition.js';
import { type BatchOutputs, buildOutputs, recordIdOfParkedKey, sideOutputKey } from './batch-outputs.js';
import {
  type CommitOptions,
  type Committed,
  type Computed,
  ComputeError,
  commitEntities,
} from './commit-entities.js';
import { decodeRecord, type InputRecord, type RedriveOf } from './decode.js';
import {
  addHole,
  advanceCheckpoint,
  alreadyProcessed,
  appliedCopy,
  applyEvent,
  dropHole,
  type EntityRecord,
  eventIdOfKey,
  expireHoles,
  HOLE_TTL_MS,
  hasHole,
  isForgotten,
  isLate,
  markCopyApplied,
  pending,
  pruneState,
  recentEntry,
  remember,
  retryKey,
  secondKey,
} from './entity-state.js';
import {
  expireMovedIds,
  type IdMove,
  idBucketKey,
  idBucketStart,
  idsToMove,
  itemExpiresAt,
  lastBucketedSecond,
  moveIds,
} from './id-buckets.js';
import { entityKeyOf } from './latest-values.js';
import type {
  EntityKey,
  EntityState,
  EntityStore,
  OfflineSink,
  ParkedEntry,
  PutResult,
  RecentEvent,
  SideOutput,
  SideOutputEntry,
  StoredEntity,
  Tokenizer,
} from './ports.js';
import { isFailed, isPermanent } from './ports.js';
import { padSequence } from './sequence.js';
import { HmacTokenizer } from './tokens.js';

export type Outcome = 'applied' | 'duplicate' | 'quarantined' | 'late';

export interface ProcessorDeps {
  readonly contracts: ReadonlyMap<string, EventContract>;
  readonly groupsFedBy: (contractName: string) => readonly FeatureGroup[];
  readonly entities: EntityStore;
  readonly offline: OfflineSink;
  readonly sideOutput: SideOutput;
  /**
   * Replaces PII-classified field values with tokens before anything is stored.
   * @default tokens under a random per-process key: never raw PII, but not stable across processes
   */
  readonly tokenizer?: Tokenizer;
  /** Backoff between write-conflict retries (tests inject an instant one). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Wall clock, epoch ms: id buckets' TTL and id epochs (tests inject one). @default Date.now */
  readonly now?: () => number;
  /**
   * A record whose entity write in a group other than its authority still fails at this age (ms
   * since it reached the stream, by the wall clock) is parked for that group, as one failing for good
   * is (step 7), instead of failing its batch again: the event source mapping gives up on a record at
   * its maximum age, and one it gives up on after its authority decided it would stay half applied,
   * which no redrive can finish; a parked one a redrive finishes exactly once. A record its authority
   * has not decided by this age is parked whole, undecided (step 7). Not covered: a record whose
   * authority write fails with a younger record's of the same entity (applied nowhere, so given up it
   * is decided afresh by a redrive; the later records of its batch complete meanwhile, step 6) or a
   * copy completing an entry parked for some groups (its entry stays, for the next redrive). The age
   * is the record's: a consumer that far behind parks at the first such failure, and parks whole
   * what its authorities have not decided.
   * Set an hour under that maximum age (lib/platform-spec.ts `parkAfterAgeSeconds`). @default never
   */
  readonly parkAfterMs?: number;
  /**
   * How long an entity keeps a hole, by the clock of its own shard (entity-state.ts `HOLE_TTL_MS`):
   * deployed, the stream's retention and a day (lib/platform-spec.ts `holeTtlSeconds`), so that a
   * replay of the stream still finds the holes of records parked whole. @default HOLE_TTL_MS
   */
  readonly holeTtlMs?: number;
}

export interface BatchResult {
  /** Outcome per record id, for the records that completed. */
  readonly outcomes: ReadonlyMap<string, Outcome>;
  readonly counts: Readonly<Record<Outcome, number>>;
  /** Sequence numbers of the records that did not complete, ascending; redeliver from the first. */
  readonly failed: readonly string[];
  /** Why they failed (store errors), for the log; never record contents. */
  readonly errors: readonly Error[];
  /** Records parked (step 7), whole or for some groups, among those that completed. */
  readonly parked: number;
  /** Why they were parked, for the log. */
  readonly parkErrors: readonly Error[];
  /** Offline objects parked (step 8): written to the side-output bucket for `npm run redrive`. */
  readonly rowsParked: number;
}

/** A record set aside (step 7): the groups still to apply it to (undefined: all), and why. */
export interface Parked {
  groups: string[] | undefined;
  readonly reasons: string[];
  /**
   * A redrive completing a parked entry, refused again: it has no entry of its own, the one it
   * carries stays (narrowed to what is still refused).
   */
  readonly copy?: boolean;
}

/** What the authority decided for a record. */
export type Decision =
  | {
      readonly kind: 'owner';
      readonly lateGroups: readonly string[];
      /** A redrive completing a parked record: the only groups to apply it to now (step 7). */
      readonly only?: readonly string[];
      /** Decided in an earlier delivery (read back here): an entity may have applied it since. */
      readonly earlier?: boolean;
    }
  | {
      readonly kind: 'duplicate';
      readonly owner: string;
      /** Read back (its authority had processed it): it may be a record parked whole since. */
      readonly earlier?: boolean;
    }
  /** processed long ago; its decision is past the lateness horizon (nothing to redo) */
  | { readonly kind: 'forgotten' };

/** A record that passed validation, as every group sees it. */
export interface Candidate extends EntityRecord {
  readonly record: InputRecord;
  readonly groups: readonly FeatureGroup[];
  readonly authority: FeatureGroup;
  /** A redrive of a record parked for some groups: which entry it claims to complete (decode.ts). */
  readonly redrive?: RedriveOf;
}

const entityOf = (group: FeatureGroup, c: Candidate): EntityKey => ({
  group: group.name,
  entityId: String(c.event.fields[group.entity.field]),
});

/** The group keyed by the contract's partition key field. */
export const authorityOf = (
  contract: EventContract,
  groups: readonly FeatureGroup[],
): FeatureGroup | undefined => groups.find((g) => g.entity.field === contract.partitionKeyField);

export async function processBatch(
  records: readonly InputRecord[],
  deps: ProcessorDeps,
): Promise<BatchResult> {
  const quarantined = new Map<InputRecord, string>();
  const candidates: Candidate[] = [];
  // Each sequence number padded once (a comparator would pad it at every comparison).
  const paddedOf = new Map<string, string>();
  let inOrder = true; // as Lambda delivers a shard's batch: then there is nothing to sort
  let last = '';
  for (const r of records) {
    const p = padSequence(r.sequenceNumber);
    paddedOf.set(r.recordId, p);
    if (p < last) inOrder = false;
    last = p;
  }
  const padded = (r: InputRecord) => paddedOf.get(r.recordId) as string;
  const sorted = inOrder ? records : [...records].sort((a, b) => (padded(a) < padded(b) ? -1 : 1));
  for (const record of sorted) {
    const decoded = decodeRecord(record, deps.contracts);
    if (!decoded.ok) {
      quarantined.set(record, decoded.reason);
      continue;
    }
    const { event } = decoded;
    const key = String(event.fields[event.contract.partitionKeyField]);
    if (record.partitionKey !== key) {
      quarantined.set(
        record,
        `partition key must be the event's ${event.contract.partitionKeyField} (per-entity order depends on it)`,
      );
      continue;
    }
    const groups = deps.groupsFedBy(event.contract.name);
    const authority = authorityOf(event.contract, groups);
    if (!authority) {
      quarantined.set(
        record,
        `contract ${event.contract.name} feeds no group keyed by ${event.contract.partitionKeyField}`,
      );
      continue;
    }
    candidates.push({
      record,
      recordId: record.recordId,
      shardId: record.shardId,
      paddedSequence: padded(record),
      arrivalTime: record.arrivalTime,
      event,
      groups,
      authority,
      ...(decoded.redrive ? { redrive: decoded.redrive } : {}),
    });
  }

  await tokenizePii(candidates, deps.tokenizer ?? ephemeralTokenizer);

  const now = (deps.now ?? Date.now)();
  const holeTtlMs = Math.max(deps.holeTtlMs ?? HOLE_TTL_MS, HOLE_TTL_MS);
  const errors: Error[] = [];
  let firstFailed: string | undefined; // padded sequence number of the first record not completed
  const failedAt = new Set<string>(); // padded sequence numbers of every record not completed
  const markFailed = (cs: readonly { paddedSequence: string }[], error: Error) => {
    errors.push(error);
    for (const c of cs) {
      failedAt.add(c.paddedSequence);
      if (firstFailed === undefined || c.paddedSequence < firstFailed) firstFailed = c.paddedSequence;
    }
  };
  const before = (c: { paddedSequence: string }) =>
    firstFailed === undefined || c.paddedSequence < firstFailed;
  // The groups whose entity writes failed for a redrive copy (so as to narrow its entry to them), and
  // those whose entity had applied it already (in an earlier delivery): a write of that entity that
  // fails, for another record of it, does not concern the copy, which is neither failed by it nor
  // kept for that group. (Counted failed, the copy could be narrowed to a group that has it, and
  // given up, applied there again by the next redrive's copy: found on review.)
  const copyFailedIn = new Map<Candidate, Set<string>>();
  const copyHadIn = new Map<Candidate, Set<string>>();
  const addTo = (m: Map<Candidate, Set<string>>, c: Candidate, group: FeatureGroup) =>
    m.set(c, (m.get(c) ?? new Set()).add(group.name));
  const markFailedIn = (group: FeatureGroup, cs: readonly Candidate[], error: Error) => {
    const concerned = cs.filter((c) => !copyHadIn.get(c)?.has(group.name));
    for (const c of concerned) if (c.redrive) addTo(copyFailedIn, c, group);
    markFailed(concerned, error);
  };
  const parked = new Map<string, Parked>();
  const parkErrors: Error[] = [];
  // The copy completing each parked entry (step 7), set once the entries are read.
  let completing = new Map<string, Candidate>();
  const completes = (c: Candidate) => c.redrive !== undefined && completing.get(c.redrive.parked) === c;
  // Records near the age at which the mapping would give up on them (parkAfterMs).
  const stuck = (c: Candidate) => deps.parkAfterMs !== undefined && now - c.arrivalTime >= deps.parkAfterMs;
  /**
   * True if a record not decided yet is too old to be (step 7): decided now, a crash or a failure
   * ahead of it until the mapping's maximum age would leave it half applied. A redrive copy too (its
   * age counts from its redrive): one completing an entry is then a copy refused again, a duplicate
   * of the record it carries, whose entry stays for the next redrive.
   */
  const agesOut = stuck;
  const agedOut = new AgedOutError(deps.parkAfterMs ?? 0);
  const agedOutReason = (c: Candidate) =>
    `the record was ${describeAge(now - c.arrivalTime)} old when its ${c.authority.name} entity came to decide it, and the stream keeps a record a day: decided so late, a failure before every group applied it could leave it half applied`;
  /**
   * True if a record still failing in `group` is parked for it by age: in a group other than its
   * authority, once the authority decided it (given up, it would stay half applied). Not one whose
   * authority write fails (a younger record of its entity in the batch failing there): nothing of it
   * is applied, so it fails, and given up, its redrive decides it afresh; the later records of its
   * batch complete without it (step 6). (Not decided yet at that age, it was parked whole before any
   * write: `agesOut`.) Nor a copy completing an entry parked for some groups: it fails, and its
   * entry stays for the next redrive, narrowed to the groups that failed if others applied it
   * (`partlyApplied`; parked again, a later delivery that writes it would contradict the outcome given).
   */
  const parkedByAge = (c: Candidate, group: FeatureGroup): boolean =>
    stuck(c) && group !== c.authority && (!completes(c) || onlyOf(c) === undefined);
  const park = (group: FeatureGroup, cs: readonly Candidate[], error: Error, reason?: string) => {
    if (!parkErrors.includes(error)) parkErrors.push(error);
    for (const c of cs) {
      let p = parked.get(c.recordId);
      if (!p) {
        p = { groups: [], reasons: [], ...(completes(c) ? { copy: true } : {}) };
        parked.set(c.recordId, p);
      }
      if (group === c.authority) p.groups = undefined;
      else p.groups?.push(group.name);
      p.reasons.push(
        reason ??
          (isPermanent(error)
            ? `the ${group.name} entity cannot be written (${describePermanent(error)})`
            : `the ${group.name} entity still could not be written when the record was ${describeAge(now - c.arrivalTime)} old (${describeTransient(error)}), and the stream keeps a record a day`),
      );
    }
  };
  const byEntity = (group: FeatureGroup, cs: readonly Candidate[]) => {
    const m = new Map<string, { key: EntityKey; records: Candidate[] }>();
    for (const c of cs) {
      const key = entityOf(group, c);
      const k = entityKeyOf(key);
      let e = m.get(k);
      if (!e) {
        e = { key, records: [] };
        m.set(k, e);
      }
      e.records.push(c);
    }
    return m;
  };
  const groupsByName = new Map<string, FeatureGroup>();
  for (const c of candidates)
    for (const g of c.groups) if (!groupsByName.has(g.name)) groupsByName.set(g.name, g);
  /**
   * Commits the group's entities. An entity refused for good (step 7) parks those of its records it
   * has not processed yet; the ones it has (a redelivery) are done for it, and are returned by entity
   * (an authority recomputes their decisions from them).
   */
  const commit = async <D>(
    group: FeatureGroup,
    entities: Map<string, { key: EntityKey; records: Candidate[] }>,
    compute: Parameters<typeof commitEntities<D>>[2],
    options: Pick<CommitOptions<D>, 'companions' | 'beforeSave'> = {},
    parking = true,
  ) => {
    const results = await commitEntities(
      deps.entities,
      [...entities.values()].map((e) => e.key),
      compute,
      (_, s) => itemExpiresAt(s, group, now),
      { sleep: deps.sleep, ...options },
    );
    // The entities that failed, with the records of each to park (unless the entity processed them
    // already). A failure that may pass (an outage) in a group that is not the records' authority:
    // their records old enough to be given up on soon are parked for it as for one that cannot be
    // written (parkAfterMs), the others fail (to be redelivered). A later delivery that writes a
    // record parked here takes its group off the entry (phase B).
    const refused: { k: string; error: Error; records: Candidate[] }[] = [];
    for (const [k, r] of results) {
      if (r.ok) continue;
      const records = entities.get(k)?.records ?? [];
      if (parking && isPermanent(r.error)) refused.push({ k, error: r.error, records });
      else if (parking && records.some((c) => parkedByAge(c, group))) {
        refused.push({ k, error: r.error, records: records.filter((c) => parkedByAge(c, group)) });
        const young = records.filter((c) => !parkedByAge(c, group));
        if (young.length > 0) markFailedIn(group, young, r.error);
      } else markFailedIn(group, records, r.error);
    }
    const processedBefore = new Map<string, Candidate[]>();
    if (refused.length > 0) {
      let stored: (StoredEntity | undefined)[] = [];
      try {
        stored = await deps.entities.load(refused.map(({ k }) => entities.get(k)?.key as EntityKey));
      } catch (error) {
        for (const { records } of refused) markFailedIn(group, records, error as Error);
        return { results, processedBefore };
      }
      refused.forEach(({ k, error, records }, i) => {
        const state = stored[i]?.state;
        const processed = records.filter((c) => state !== undefined && !pending(state, c));
        park(
          group,
          records.filter((c) => !processed.includes(c)),
          error,
        );
        if (processed.length > 0) processedBefore.set(k, processed);
      });
    }
    return { results, processedBefore };
  };

  // Redrives of parked records (step 7): each parked entry is completed by its first copy that names
  // the same bytes. A record parked for some groups is applied to them alone: its authority decided
  // it long ago. Another copy of the same bytes (in this batch, or of an entry completed since) is a
  // duplicate of the first; a copy of an entry gone, or naming other bytes, is decided as any record
  // is, by its authority (a duplicate, if its event was applied).
  const decisions = new Map<string, Decision>();
  /** The groups a record's decision restricts it to (a copy completing an entry for some groups). */
  const onlyOf = (c: Candidate): readonly string[] | undefined =>
    (decisions.get(c.recordId) as { only?: readonly string[] } | undefined)?.only;
  const resolved = await resolveCompletions(
    candidates.filter((c) => c.redrive),
    new Set(candidates.map((c) => c.recordId)),
    deps.sideOutput,
    decisions,
    markFailed,
  );
  completing = resolved.completing;
  const { decided, unread, renarrowing } = resolved;

  // Phase A: each authority entity decides for its records (duplicate? late for which groups?) and applies its own.
  const fresh = candidates.filter((c) => !decided.has(c) && !unread.has(c));
  for (const authority of new Set(fresh.map((c) => c.authority))) {
    const entities = byEntity(
      authority,
      fresh.filter((c) => c.authority === authority),
    );
    // The id buckets an entity's records may need (one per second they fall in), once it is read.
    const bucketIdOf = (key: EntityKey, c: Candidate) =>
      entityKeyOf(idBucketKey(authority.name, key.entityId, idBucketStart(c.event.eventTime)));
    const bucketsOf = (key: EntityKey, stored: StoredEntity | undefined): EntityKey[] => {
      const keys = new Map<number, EntityKey>();
      const last = lastBucketedSecond(stored?.state);
      for (const c of entities.get(entityKeyOf(key))?.records ?? []) {
        const start = idBucketStart(c.event.eventTime);
        if (start <= last && !keys.has(start))
          keys.set(start, idBucketKey(authority.name, key.entityId, start));
      }
      return [...keys.values()];
    };
    const moves = new Map<object, IdMove[]>();
    const compute = (
      key: EntityKey,
      base: EntityState,
      buckets: ReadonlyMap<string, EntityState>,
    ): Computed<Map<string, Decision | AgedOut>> => {
      const state = base; // a private copy: the store returns copies, and a conflict reloads
      const info = new Map<string, Decision | AgedOut>();
      const aged: Candidate[] = [];
      let changed = false;
      const records = entities.get(entityKeyOf(key))?.records ?? [];
      // An id counts within the second of its event time: in the entity (under a key with that
      // second; unqualified in items from before 2026-11-26) until pruned, or in the bucket of
      // that second while within the horizon (pruning's rule: ids of a record and of its retries
      // leave together, wherever they are kept).
      // A bucket's entry that decides a record here is pinned back into the entity, so that a
      // redelivery of this batch reads it there, kept by pruning, even once past the horizon.
      const pins = new Map<string, RecentEvent>();
      const lookup = (c: Candidate, id: string) => {
        const t = c.event.eventTime;
        const inItem = recentEntry(state, secondKey(id, t));
        if (inItem) return inItem;
        const old = recentEntry(state, id);
        if (old && idBucketStart(old.t) === idBucketStart(t)) return old;
        if (buckets.size === 0) return undefined;
        const bucket = buckets.get(bucketIdOf(key, c));
        const moved = bucket && recentEntry(bucket, id);
        if (!moved || isForgotten(state, authority, moved.t)) return undefined;
        pins.set(secondKey(id, t), moved);
        return moved;
      };
      for (const c of records) {
        const { eventId } = c.event;
        const seen = lookup(c, eventId);
        const own = seen?.r === c.recordId ? seen : lookup(c, retryKey(eventId, c.recordId));
        if (!pending(state, c)) {
          info.set(
            c.recordId,
            own
              ? { kind: 'owner', lateGroups: own.lg ?? [], earlier: true }
              : seen
                ? { kind: 'duplicate', owner: seen.r, earlier: true }
                : { kind: 'forgotten' },
          );
          continue;
        }
        // Not one that applies nothing anywhere (a duplicate, late for every group): nothing of it
        // can be left half applied, so it is decided at any age, where it stands in the stream.
        // Unless parked already (a hole here): its entry may be written, for a redrive to decide.
        if (!own && agesOut(c)) {
          const forgotten = isForgotten(state, authority, c.event.eventTime);
          const appliesNothing =
            !hasHole(state, c) &&
            ((seen !== undefined && !forgotten) ||
              c.groups.every((g) => forgotten || isLate(state, g, c.event.eventTime)));
          if (!appliesNothing) {
            aged.push(c);
            info.set(c.recordId, AGED_OUT);
            continue;
          }
        }
        if (!changed) expireMovedIds(state, authority, now);
        changed = true;
        dropHole(state, c);
        advanceCheckpoint(state, c);
        const original = c.redrive && parkedRecordOf(completing, c);
        if (original) {
          // as in phase B
          advanceCheckpoint(state, original);
          dropHole(state, original);
        }
        let lateGroups: readonly string[];
        if (own) {
          // Its own decision, though the entity has no checkpoint for it (one lost since, to an
          // erasure or the item's TTL, while the id lived on in a bucket): never its own duplicate.
          lateGroups = own.lg ?? [];
        } else {
          // Past the id horizon an event counts as never seen (pruned or not yet): it can only be late.
          const forgotten = isForgotten(state, authority, c.event.eventTime);
          if (seen && !forgotten) {
            info.set(c.recordId, { kind: 'duplicate', owner: seen.r });
            continue;
          }
          // A forgotten event (past the id horizon or below the floor) is late everywhere.
          lateGroups = c.groups
            .filter((g) => forgotten || isLate(state, g, c.event.eventTime))
            .map((g) => g.name);
          // The id's own entry is written once, by its first record within the horizon, and never
          // overwritten: a redelivered duplicate of it must still read its owner there.
          const id = forgotten ? retryKey(eventId, c.recordId) : eventId;
          remember(state, secondKey(id, c.event.eventTime), {
            r: c.recordId,
            t: c.event.eventTime,
            ...(lateGroups.length ? { lg: lateGroups } : {}),
          });
        }
        if (!lateGroups.includes(authority.name)) applyEvent(state, authority, c);
        info.set(
          c.recordId,
          own ? { kind: 'owner', lateGroups, earlier: true } : { kind: 'owner', lateGroups },
        );
      }
      // Records parked by age that the entity goes past (a later record of their shard): holes, so
      // that a redelivery parks them again rather than take them for decided.
      for (const c of aged)
        if (alreadyProcessed(state, c) && !hasHole(state, c)) {
          if (!changed) expireMovedIds(state, authority, now);
          changed = true;
          addHole(state, c, now);
        }
      if (changed && (state.holes || state.copies))
        expireHoles(state, new Set(records.map((c) => c.shardId)), now, holeTtlMs);
      const batchIds = new Set(records.map((c) => c.event.eventId));
      const out = { state, changed, info };
      if (changed) {
        for (const [k, entry] of pins) if (!recentEntry(state, k)) remember(state, k, entry);
        // Ids move before pruning: an id a bucket can take is not evicted (which raises the floor).
        // Only settled ones (saved with the events they decided): not the ids of this batch's
        // records, which go into the entity with their events (a redelivery of them reads them
        // there, as pruning keeps them; pins are of this batch's records too), nor ids past the
        // horizon (pruning drops them). Listed only if the item is too big to keep them all.
        const movable = () => {
          const list: [string, RecentEvent][] = [];
          for (const k in state.recent) {
            const entry = recentEntry(state, k);
            if (entry && !isForgotten(state, authority, entry.t) && !batchIds.has(eventIdOfKey(k)))
              list.push([k, entry]);
          }
          return list;
        };
        const moved = idsToMove(authority, key, state, movable, deps.entities, now);
        if (moved.length > 0) moves.set(out, moved);
        pruneState(state, authority, batchIds);
      }
      return out;
    };
    const options: CommitOptions<Map<string, Decision | AgedOut>> = {
      companions: bucketsOf,
      beforeSave: async (computed) => {
        await moveIds(deps.entities, authority, computed, moves, now);
        return undefined;
      },
    };
    /** The decisions an authority commit made; a record aged out is parked whole instead. */
    const take = (results: ReadonlyMap<string, Committed<Map<string, Decision | AgedOut>>>) => {
      for (const [k, r] of results)
        if (r.ok)
          for (const [id, d] of r.info)
            if (d.kind !== AGED_OUT.kind) decisions.set(id, d);
            else {
              const c = entities.get(k)?.records.find((x) => x.recordId === id) as Candidate;
              park(authority, [c], agedOut, agedOutReason(c));
            }
    };
    const { results, processedBefore } = await commit(authority, entities, compute, options);
    take(results);
    // An entity refused for good that had decided some of its records already (a redelivery): their
    // decisions, read back (nothing is written), so that the rest of their processing goes on.
    if (processedBefore.size > 0) {
      const again = new Map(
        [...processedBefore].map(([k, records]) => [k, { key: entities.get(k)?.key as EntityKey, records }]),
      );
      for (const [k, e] of again) (entities.get(k) as { records: Candidate[] }).records = e.records;
      // Only records it had processed: none is aged out (that is for records not decided yet).
      take((await commit(authority, again, compute, options, false)).results);
    }
  }

  // Phase B: the other groups apply the decisions. A copy completing an entry parked for some
  // groups only before the first failure (as phase A left it): one after it applied now and then
  // given up would leave its entry parked, for the next redrive to apply again (its authority does
  // not decide it). Every other decided record is applied whether or not an earlier one failed:
  // checkpoints are per entity, and an entity going past a record it has not applied (one its
  // authority failed on or parked whole in this delivery, such a copy after the first failure)
  // keeps it as a hole, applied when it comes again and its authority takes it. So a record failing
  // for a day holds back no other later record of its batch, which the event source mapping would
  // otherwise give up with it, half applied (their authorities decided them in phase A).
  // A record decided in an earlier delivery that an entity applies only now may have been parked
  // for it by that delivery (which then lost its answer): before the entity is saved, the record's
  // entry loses its group, so that no redrive applies it again (if that fails, the entity is not
  // saved).
  // Copies completing an entry for some groups, after a failure: decided once, before any group's
  // turn, so that a group failing in its turn does not have a later group hold back a copy an earlier
  // one applied (given up, its entry would stay parked, and the next redrive apply it there again).
  const stillParked = await parkedBefore(candidates, decisions, deps.sideOutput, markFailed);
  const heldBack = new Set<Candidate>();
  for (const c of candidates) {
    const d = decisions.get(c.recordId);
    if (d?.kind === 'owner' && d.only !== undefined && !before(c)) heldBack.add(c);
  }
  for (const group of groupsByName.values()) {
    const mine: Candidate[] = [];
    // The group's records it may have to apply later: undecided, or a copy held back.
    const skipped: Candidate[] = [];
    for (const c of candidates) {
      if (c.authority === group || !c.groups.includes(group)) continue;
      const d = decisions.get(c.recordId);
      if (d === undefined) skipped.push(c);
      else if (
        d.kind === 'owner' &&
        !d.lateGroups.includes(group.name) &&
        (d.only === undefined || d.only.includes(group.name))
      )
        if (heldBack.has(c)) skipped.push(c);
        else mine.push(c);
    }
    if (mine.length === 0) continue;
    const entities = byEntity(group, mine);
    const skippedOf = byEntity(group, skipped);
    const computeB = (key: EntityKey, base: EntityState): Computed<Candidate[]> => {
      const state = base; // a private copy: the store returns copies, and a conflict reloads
      let changed = false;
      const lateApplied: Candidate[] = [];
      const notApplied = (skippedOf.get(entityKeyOf(key))?.records ?? []).filter((c) => pending(state, c));
      const applying = entities.get(entityKeyOf(key))?.records ?? [];
      for (const c of applying) {
        // Not past it, or past it only as a hole (parked whole when the entity went past it). A copy
        // that narrowed its entry to this group (parked for it by an earlier delivery) and comes
        // again: whether the entity applied it, which it remembers, not the checkpoint, which a
        // later record of its shard may have taken past it while it was parked.
        if (renarrowing.has(c) ? appliedCopy(state, c) : !pending(state, c)) {
          if (c.redrive) addTo(copyHadIn, c, group);
          continue;
        }
        dropHole(state, c);
        advanceCheckpoint(state, c);
        // A completion also covers the parked record on its own shard: a replay of that shard (a
        // mapping started over) then skips it here. Every record of that shard before it was applied
        // or parked by then (a shard is processed in order), so nothing is skipped that should not be.
        // Nor applied again: an entity that went past the parked record as a hole (its authority
        // failed on it then) drops the hole.
        const original = c.redrive && parkedRecordOf(completing, c);
        if (original) {
          advanceCheckpoint(state, original);
          dropHole(state, original);
        }
        applyEvent(state, group, c);
        const d = decisions.get(c.recordId) as { earlier?: boolean; only?: readonly string[] } | undefined;
        if (d?.only !== undefined) markCopyApplied(state, c, now);
        if (d?.earlier && d.only === undefined && !completes(c)) lateApplied.push(c);
        changed = true;
      }
      if (changed) {
        // The records of this entity not applied here that it now goes past: holes, applied should
        // they be delivered again (a redelivery from a failure, a replayed stream, a redrive copy's
        // redelivery) and taken by their authority then.
        for (const c of notApplied) if (alreadyProcessed(state, c)) addHole(state, c, now);
        if (state.holes || state.copies)
          expireHoles(state, new Set(applying.map((c) => c.shardId)), now, holeTtlMs);
        pruneState(state, group);
      }
      return { state, changed, info: lateApplied };
    };
    await commit(group, entities, computeB, {
      beforeSave: async (computed) => {
        const unpark = computed.flatMap(({ key, out }) => out.info.map((c) => ({ key, c })));
        if (unpark.length === 0) return undefined;
        const results = await deps.sideOutput.unparkGroups(
          unpark.map(({ c }) => ({
            key: ownParkedKey(c),
            groups: [group.name],
          })),
        );
        const unsaved = new Map<string, Error>();
        results.forEach((r, i) => {
          const u = unpark[i];
          if (isFailed(r) && u) unsaved.set(entityKeyOf(u.key), r.failed);
        });
        return unsaved;
      },
    });
  }

  // A completing copy refused again by every group it was to reach did nothing: a duplicate of the
  // record it carries, whose entry stays as it is.
  const refusedAgain = new Set<Candidate>();
  for (const [key, c] of completing) {
    const p = parked.get(c.recordId);
    const only = onlyOf(c);
    if (!renarrowing.has(c) && p && (p.groups === undefined || only?.every((g) => p.groups?.includes(g)))) {
      decisions.set(c.recordId, { kind: 'duplicate', owner: recordIdOfParkedKey(key) });
      refusedAgain.add(c);
    }
  }

  // A completing copy that did its part in phase B: neither held back there nor refused again by
  // every group it was to reach (whether its own writes failed is for the caller to check).
  const copyWritten = (c: Candidate) => !heldBack.has(c) && !refusedAgain.has(c);

  // Phase C: side outputs and feature history for the records before the first failure, and for those
  // after it that completed all the same (phase B): their rows are named after them, so that the
  // redelivery rewriting them is harmless, and a day of failures before them does not leave them
  // without a history should the event source mapping give them up.
  // A later record parked for some groups (by age, or refused for good) completes too, with its
  // entry: given up, its redrive copy would be a duplicate for its authority and so for every group.
  // A redelivery that applies it to a group takes the group off the entry (phase B), as for one
  // parked in a delivery that lost its answer (a copy refused again narrows the entry it carries
  // instead). One parked whole has no entry after the failure: it was applied nowhere, and is
  // decided afresh when it comes again, a redrive copy included. A copy completing an entry for some
  // groups after the failure has its rows too, if it was applied (not held back in phase B): its
  // entry is completed, and its redelivery then writes none.
  const completedLate = (c: Candidate) => {
    const d = decisions.get(c.recordId) as { only?: unknown } | undefined;
    const p = parked.get(c.recordId);
    return (
      !failedAt.has(c.paddedSequence) &&
      d !== undefined &&
      (d.only === undefined || (completes(c) && copyWritten(c))) &&
      (p === undefined || p.groups !== undefined)
    );
  };
  // A copy completing an entry for some groups that some of them applied (now, or in an earlier
  // delivery) and others failed on (an outage there) fails, to be redelivered; its entry is narrowed
  // now to the groups it has not reached, once the rows of those it reached are written (here).
  // Redelivered, the copy goes on with the others (`renarrowing`); given up with its batch at the
  // maximum age, the copy that the next redrive sends applies it to them alone, never again to one
  // that applied it (which the entry would otherwise still name).
  const partlyApplied: { key: string; c: Candidate; left: string[]; reached: string[] }[] = [];
  for (const [key, c] of completing) {
    const only = onlyOf(c);
    const failedIn = copyFailedIn.get(c);
    if (!only || !failedIn || !failedAt.has(c.paddedSequence) || !copyWritten(c)) continue;
    const left = only.filter((g) => failedIn.has(g) || parked.get(c.recordId)?.groups?.includes(g));
    const reached = only.filter((g) => !left.includes(g));
    if (left.length > 0 && reached.length > 0) partlyApplied.push({ key, c, left, reached });
  }
  const partly = new Set(partlyApplied.map((p) => p.c));
  const done = candidates.filter((c) => before(c) || completedLate(c) || partly.has(c));
  const outputs = buildOutputs({
    quarantined,
    candidates: done,
    // Those copies' rows: of the groups they reached.
    decisions:
      partlyApplied.length === 0
        ? decisions
        : new Map([
            ...decisions,
            ...partlyApplied.map(
              ({ c, reached }) =>
                [c.recordId, { kind: 'owner', lateGroups: [], only: reached }] as [string, Decision],
            ),
          ]),
    groupsByName,
    parked,
  });
  const parkedEntries = outputs.side.filter((e) => e.kind === 'parked');
  const otherSide = outputs.side.filter((e) => e.kind !== 'parked');
  const [appended, sideResults] = await Promise.all([
    deps.offline.append(outputs.offline.map((o) => o.batch)),
    deps.sideOutput.put(otherSide),
  ]);
  const { results: offlineResults, parked: rowsParked } = await parkOfflineObjects(
    deps,
    outputs.offline,
    appended,
    stuck,
    errors,
  );
  const sequenceOf = (e: SideOutputEntry) => ({ paddedSequence: paddedOf.get(e.recordId) as string });
  const rowsFailed = new Set<Candidate>();
  offlineResults.forEach((r, i) => {
    if (!isFailed(r)) return;
    const records = outputs.offline[i]?.records ?? [];
    markFailed(records, r.failed);
    for (const c of records) rowsFailed.add(c);
  });
  sideResults.forEach((r, i) => {
    const e = otherSide[i];
    if (isFailed(r) && e) markFailed([sequenceOf(e)], r.failed);
  });
  // Completed parked records leave parked/ once all of their copy's writes are done, for parked-done/
  // naming the copy. A redelivery of the copy before that finds the groups' checkpoints past it, and
  // completes the entry then; one after it reads there that it was the copy that completed it. A copy
  // refused again by some of its groups narrows the entry to them instead.
  // Whether or not a record before it failed: given up with that record, an entry left parked would
  // have the next redrive apply it again. Not a copy held back in phase B, which applied nothing.
  const finished = [...completing].filter(([, c]) => !failedAt.has(c.paddedSequence) && copyWritten(c));
  const narrowed = finished
    .filter(([, c]) => parked.has(c.recordId))
    .map(([key, c]) => ({ key, c, groups: parked.get(c.recordId)?.groups ?? [] }));
  for (const { key, c, left } of partlyApplied)
    if (!rowsFailed.has(c)) narrowed.push({ key, c, groups: left });
  const completed = finished.filter(([, c]) => !parked.has(c.recordId));
  const [narrowResults, completeResults] = await Promise.all([
    narrowed.length > 0
      ? deps.sideOutput.narrowParked(narrowed.map(({ key, c, groups }) => ({ key, groups, by: c.recordId })))
      : [],
    completed.length > 0
      ? deps.sideOutput.completeParked(
          completed.map(([key, c]) => {
            const narrowedBy = resolved.narrowedBy.get(key);
            return {
              key,
              by: c.recordId,
              partial: decided.has(c),
              dataSha256: (c.redrive as RedriveOf).dataSha256,
              ...(narrowedBy !== undefined && narrowedBy !== c.recordId ? { narrowedBy } : {}),
            };
          }),
        )
      : [],
  ]);
  const check = (list: readonly Candidate[], results: readonly PutResult[]) =>
    results.forEach((r, i) => {
      const c = list[i];
      if (isFailed(r) && c) markFailed([c], r.failed);
    });
  check(
    narrowed.map(({ c }) => c),
    narrowResults,
  );
  check(
    completed.map(([, c]) => c),
    completeResults,
  );
  // Parked entries last, after every other write (nothing may fail after them), one at a time in
  // sequence order, and only for records that completed: an entry may authorise a redrive to apply
  // its record, so none parked whole may be written for a record after a failure (it is redelivered,
  // and decided afresh then if the cause is gone). One parked for some groups may (above), unless a
  // write of its own failed: its redelivery takes a group that applies it off the entry. Nor may one
  // be deleted: the entry of a record after a failure may be a valid one, from a delivery that
  // completed it.
  for (const e of parkedEntries) {
    const at = sequenceOf(e);
    if (!before(at) && (e.groups === undefined || failedAt.has(at.paddedSequence))) continue;
    const [result] = await deps.sideOutput.put([e]);
    if (isFailed(result)) markFailed([at], result.failed);
  }

  // Outcomes of the records before the first failure; everything from it on is redelivered.
  const candidateOf = new Map<string, Candidate>();
  for (const c of candidates) candidateOf.set(c.recordId, c);
  const outcomes = new Map<string, Outcome>();
  const counts: Record<Outcome, number> = { applied: 0, duplicate: 0, quarantined: 0, late: 0 };
  const failed: string[] = [];
  let parkedDone = 0;
  for (const record of sorted) {
    if (firstFailed !== undefined && padded(record) >= firstFailed) {
      failed.push(record.sequenceNumber);
      continue;
    }
    const p = parked.get(record.recordId);
    if (p) parkedDone++;
    const outcome =
      (p && p.groups === undefined && !p.copy) || stillParked.has(record.recordId)
        ? 'quarantined'
        : outcomeOf(record, quarantined, decisions, candidateOf);
    outcomes.set(record.recordId, outcome);
    counts[outcome]++;
  }
  return { outcomes, counts, failed, errors, parked: parkedDone, parkErrors, rowsParked };
}

/**
 * Step 8: an offline object whose put failed while one of its records nears the age the mapping
 * gives up at is parked (OfflineSink.park); parked, it counts as written. Resolves with the results
 * to go by and how many objects were parked, and adds why a park failed to `errors`.
 */
async function parkOfflineObjects(
  deps: ProcessorDeps,
  objects: BatchOutputs['offline'],
  appended: readonly PutResult[],
  stuck: (c: Candidate) => boolean,
  errors: Error[],
): Promise<{ results: PutResult[]; parked: number }> {
  const results = [...appended];
  const park = deps.offline.park?.bind(deps.offline);
  const which = objects.flatMap((o, i) =>
    park && isFailed(appended[i]) && o.records.some(stuck) ? [i] : [],
  );
  if (!park || which.length === 0) return { results, parked: 0 };
  const parkedResults = await park(which.map((i) => (objects[i] as BatchOutputs['offline'][number]).batch));
  let parked = 0;
  which.forEach((i, j) => {
    const r = parkedResults[j];
    if (isFailed(r))
      errors.push(r.failed); // the object's own put failure is reported by the caller
    else {
      results[i] = 'stored';
      parked++;
    }
  });
  return { results, parked };
}

/**
 * Records parked whole in an earlier delivery, still waiting for their redrive, among those their
 * authority read back as done without a decision of their own (a duplicate, forgotten): one its
 * authority went past since in a later batch (a later record of its entity) without knowing it, then
 * delivered again (a lost answer, a replayed stream), is still parked, not a duplicate. Their entries
 * tell (one read per such record, on redeliveries only). Their decisions go: they stay parked, with
 * the outcome they had (quarantined) and no side output.
 */
async function parkedBefore(
  candidates: readonly Candidate[],
  decisions: Map<string, Decision>,
  sideOutput: SideOutput,
  markFailed: (cs: readonly Candidate[], error: Error) => void,
): Promise<Set<string>> {
  const still = new Set<string>();
  const readBack = candidates.filter((c) => {
    const d = decisions.get(c.recordId);
    return c.redrive === undefined && (d?.kind === 'forgotten' || (d?.kind === 'duplicate' && d.earlier));
  });
  if (readBack.length === 0) return still;
  const entries = await sideOutput.parked(readBack.map((c) => ownParkedKey(c)));
  readBack.forEach((c, i) => {
    const e = entries[i];
    if (isFailed(e)) markFailed([c], e.failed);
    else if (e && e.completedBy === undefined && e.groups === undefined) {
      decisions.delete(c.recordId);
      still.add(c.recordId);
    }
  });
  return still;
}

/** The key a record's own parked entry has (not the entry a redrive copy carries). */
const ownParkedKey = (c: Candidate): string =>
  sideOutputKey({ kind: 'parked', recordId: c.recordId, arrivalTime: c.arrivalTime });

/** The parked record a completing copy completes, as a position in its shard. */
function parkedRecordOf(
  completing: ReadonlyMap<string, Candidate>,
  c: Candidate,
): { shardId: string; paddedSequence: string } | undefined {
  const key = c.redrive?.parked;
  if (key === undefined || completing.get(key) !== c) return undefined;
  const [shardId = '', sequence = ''] = recordIdOfParkedKey(key).split(':');
  return { shardId, paddedSequence: padSequence(sequence) };
}

/**
 * Reads the parked entries that redrives name. Returns the copy that completes each entry (the
 * first in the batch naming its bytes, while it is not completed), the copies decided here (those
 * completing a record parked for some groups: owner, for those groups only; and a redelivery of
 * one, which already did), and the copies whose entry could not be read (failed, to be redelivered).
 * Every other copy is for its authority to decide.
 */
async function resolveCompletions(
  copies: readonly Candidate[],
  inBatch: ReadonlySet<string>,
  sideOutput: SideOutput,
  decisions: Map<string, Decision>,
  markFailed: (cs: readonly Candidate[], error: Error) => void,
): Promise<{
  completing: Map<string, Candidate>;
  decided: Set<Candidate>;
  unread: Set<Candidate>;
  renarrowing: Set<Candidate>;
  /** The copy that last narrowed each entry read, if one did: its completion names it too. */
  narrowedBy: Map<string, string>;
}> {
  const completing = new Map<string, Candidate>();
  const narrowedBy = new Map<string, string>();
  const decided = new Set<Candidate>();
  const unread = new Set<Candidate>();
  const renarrowing = new Set<Candidate>();
  if (copies.length === 0) return { completing, decided, unread, renarrowing, narrowedBy };
  // A copy completing a record parked for some groups: owner, for those of them it feeds.
  const applyOnlyTo = (c: Candidate, groups: readonly string[]) => {
    const only = c.groups.filter((g) => groups.includes(g.name)).map((g) => g.name);
    decisions.set(c.recordId, { kind: 'owner', lateGroups: [], only });
    decided.add(c);
  };
  const keys = [...new Set(copies.map((c) => (c.redrive as RedriveOf).parked))];
  const read = await sideOutput.parked(keys);
  const entryOf = new Map(keys.map((k, i) => [k, read[i]]));
  for (const [k, e] of entryOf)
    if (e && !isFailed(e) && e.completedBy === undefined && e.narrowedBy !== undefined)
      narrowedBy.set(k, e.narrowedBy);
  for (const c of copies) {
    const key = (c.redrive as RedriveOf).parked;
    const entry = entryOf.get(key);
    if (isFailed(entry)) {
      markFailed([c], entry.failed);
      unread.add(c);
    } else if (entry?.completedBy !== undefined) {
      // A redelivery of the copy that completed a record parked for some groups: its writes are done.
      // So is one of the copy that last narrowed it, before another completed it: its outcome kept.
      if ((entry.completedBy === c.recordId && entry.groups) || entry.narrowedBy === c.recordId) {
        decisions.set(c.recordId, { kind: 'owner', lateGroups: [], only: [] });
        decided.add(c);
      } else if (entry.completedBy !== c.recordId && sameBytes(entry, c)) {
        // Another copy of the same bytes (a redrive run twice, a producer retry of a copy): the
        // record is done, whatever its authority remembers by now (its item may have expired).
        decisions.set(c.recordId, { kind: 'duplicate', owner: entry.completedBy });
        decided.add(c);
      }
    } else if (entry && completing.has(key) && sameBytes(entry, c)) {
      // A second copy of the same bytes in this batch: the first completes the entry (or leaves it
      // parked, refused again), this one is a duplicate of it.
      decisions.set(c.recordId, { kind: 'duplicate', owner: (completing.get(key) as Candidate).recordId });
      decided.add(c);
    } else if (entry?.narrowedBy === c.recordId && entry.groups && !completing.has(key)) {
      // A redelivery of the copy that narrowed it: it goes on with what is left, its outcome kept.
      completing.set(key, c);
      applyOnlyTo(c, entry.groups);
      renarrowing.add(c);
    } else if (
      entry &&
      sameBytes(entry, c) &&
      !completing.has(key) &&
      // Its record in this batch too (redelivered): that record is applied as any redelivery, and
      // takes its groups off the entry; the copy is for its authority to decide (a duplicate).
      !inBatch.has(entry.recordId)
    ) {
      completing.set(key, c);
      if (entry.groups) applyOnlyTo(c, entry.groups);
    }
  }
  return { completing, decided, unread, renarrowing, narrowedBy };
}

/** An age as a parked reason gives it: in whole hours from two hours on, else in minutes. */
const describeAge = (ms: number): string =>
  ms >= 2 * 3_600_000 ? `${Math.floor(ms / 3_600_000)} h` : `${Math.max(0, Math.floor(ms / 60_000))} min`;

/**
 * A failure that may pass, in a parked reason: only the kind of error (its message may name the
 * entity, as the adapters' do: `write of customer#... failed`), and its cause's kind.
 */
function describeTransient(error: Error): string {
  const cause = error.cause instanceof Error ? error.cause : undefined;
  return cause && cause.name !== error.name ? `${error.name}: ${cause.name}` : error.name;
}

/**
 * True if a redrive copy carries the bytes its entry names. An entry that names none (completed by a
 * release before 2026-11-26, which kept no hash of them in parked-done/) matches no copy.
 */
const sameBytes = (entry: ParkedEntry, c: Candidate): boolean =>
  entry.dataSha256 !== undefined && entry.dataSha256 === c.redrive?.dataSha256;

/**
 * A permanent failure in a side-output reason, never a value: DynamoDB's words for a refused item;
 * for a defect, only the kind of error (its message may quote the data it failed on).
 */
function describePermanent(error: Error): string {
  const cause = error.cause instanceof Error ? error.cause : error;
  if (error instanceof ComputeError) return `${cause.name} in the processor's computation`;
  return `${cause.name}: ${cause.message}`.slice(0, 300);
}

/** In place of a decision: the authority parks the record whole by age (step 7, `agesOut`). */
const AGED_OUT = { kind: 'aged-out' } as const;
type AgedOut = typeof AGED_OUT;

/** Why records were parked whole by age, for the log (one per batch). */
export class AgedOutError extends Error {
  override readonly name = 'AgedOutError';
  constructor(parkAfterMs: number) {
    super(
      `records not decided by ${describeAge(parkAfterMs)} after they reached the stream are parked whole, for npm run redrive`,
    );
  }
}

const ephemeralTokenizer = new HmacTokenizer(async () => randomBytes(32));

/**
 * Every PII-classified field value becomes its token, in place, before any state or output sees it.
 * The fields are the processor's own (decoding builds them afresh from the payload).
 */
async function tokenizePii(candidates: readonly Candidate[], tokenizer: Tokenizer): Promise<void> {
  const items: { field: string; value: string }[] = [];
  const targets: Record<string, unknown>[] = [];
  for (const c of candidates) {
    const { contract, fields } = c.event;
    for (const field of piiFieldsOf(contract)) {
      const value = fields[field];
      if (typeof value === 'string') {
        items.push({ field, value });
        targets.push(fields as Record<string, unknown>);
      }
    }
  }
  const tokens = await tokenizer.tokenize(items);
  for (let k = 0; k < items.length; k++) {
    (targets[k] as Record<string, unknown>)[(items[k] as { field: string }).field] = tokens[k];
  }
}

/** A contract's PII-classified fields. */
const piiFieldsOf = perDefinition((contract: EventContract) =>
  Object.entries(contract.classification)
    .filter(([, classification]) => classification === 'pii')
    .map(([field]) => field),
);

function outcomeOf(
  record: InputRecord,
  quarantined: ReadonlyMap<InputRecord, string>,
  decisions: ReadonlyMap<string, Decision>,
  candidateOf: ReadonlyMap<string, Candidate>,
): Outcome {
  if (quarantined.has(record)) return 'quarantined';
  const d = decisions.get(record.recordId);
  if (d?.kind === 'duplicate') return 'duplicate';
  if (d?.kind === 'owner') {
    const c = candidateOf.get(record.recordId);
    return c && d.lateGroups.length === c.groups.length ? 'late' : 'applied';
  }
  return 'applied';
}
