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
 * 6. Nothing is marked done past the first record that did not complete: later groups and outputs
 *    only handle records before it, Lambda redelivers from it, and steps 2-3 make the rest no-ops.
 *    Offline and side-output objects are named after their records, so rewriting them is harmless.
 * 7. A failure that every retry would meet again (ports.ts `isPermanent`: an entity item DynamoDB
 *    refuses, a computation that throws on an entity's data) does not fail the batch, which would
 *    hold up the shard until its records expire: the records concerned are *parked* (a `parked` side
 *    output with the reason and the payload) and the batch goes on. An authority entity fails before
 *    anything of its records is written, so they are parked whole and a redrive is simply their first
 *    delivery; another group's entity fails after their authority decided them, so they are parked
 *    for that group only (`groups`), and a redrive applies them to it alone (offline/redrive/).
 */
import { randomBytes } from 'node:crypto';
import type { EventContract, FeatureGroup } from '../../schemas/index.js';
import { perDefinition } from '../../schemas/per-definition.js';
import { buildOutputs, recordIdOfParkedKey } from './batch-outputs.js';
import { type CommitOptions, type Committed, commitEntities } from './commit-entities.js';
import { decodeRecord, type InputRecord, type RedriveOf } from './decode.js';
import {
  advanceCheckpoint,
  alreadyProcessed,
  applyEvent,
  type EntityRecord,
  eventIdOfKey,
  isForgotten,
  isLate,
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
  EntityStore,
  OfflineSink,
  RecentEvent,
  SideOutput,
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
}

/** A record set aside (step 7): the groups still to apply it to (undefined: all), and why. */
export interface Parked {
  groups: string[] | undefined;
  readonly reasons: string[];
}

/** What the authority decided for a record. */
export type Decision =
  | {
      readonly kind: 'owner';
      readonly lateGroups: readonly string[];
      /** A redrive completing a parked record: the only groups to apply it to now (step 7). */
      readonly only?: readonly string[];
    }
  | { readonly kind: 'duplicate'; readonly owner: string }
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
  const errors: Error[] = [];
  let firstFailed: string | undefined; // padded sequence number of the first record not completed
  const markFailed = (cs: readonly { paddedSequence: string }[], error: Error) => {
    errors.push(error);
    for (const c of cs)
      if (firstFailed === undefined || c.paddedSequence < firstFailed) firstFailed = c.paddedSequence;
  };
  const before = (c: { paddedSequence: string }) =>
    firstFailed === undefined || c.paddedSequence < firstFailed;
  const parked = new Map<string, Parked>();
  const parkErrors: Error[] = [];
  // Redrives whose completion failed for good again: their parked entry stays as it is.
  const stillParked = new Set<string>();
  const park = (group: FeatureGroup, cs: readonly Candidate[], error: Error) => {
    parkErrors.push(error);
    for (const c of cs) {
      if (c.redrive) {
        stillParked.add(c.recordId);
        continue;
      }
      let p = parked.get(c.recordId);
      if (!p) {
        p = { groups: [], reasons: [] };
        parked.set(c.recordId, p);
      }
      if (group === c.authority) p.groups = undefined;
      else p.groups?.push(group.name);
      p.reasons.push(`the ${group.name} entity cannot be written (${describePermanent(error)})`);
    }
  };
  const byEntity = (group: FeatureGroup, cs: readonly Candidate[]) => {
    const m = new Map<string, { key: EntityKey; records: Candidate[] }>();
    for (const c of cs) {
      const key = entityOf(group, c);
      const k = entityKeyOf(key);
      m.set(k, m.get(k) ?? { key, records: [] });
      m.get(k)?.records.push(c);
    }
    return m;
  };
  const groupsByName = new Map(candidates.flatMap((c) => c.groups.map((g) => [g.name, g] as const)));
  const commit = async <D>(
    group: FeatureGroup,
    entities: Map<string, { key: EntityKey; records: Candidate[] }>,
    compute: Parameters<typeof commitEntities<D>>[2],
    options: Pick<CommitOptions<D>, 'companions' | 'beforeSave'> = {},
  ) => {
    const results = await commitEntities(
      deps.entities,
      [...entities.values()].map((e) => e.key),
      compute,
      (_, s) => itemExpiresAt(s, group, now),
      { sleep: deps.sleep, ...options },
    );
    for (const [k, r] of results) {
      if (r.ok) continue;
      const records = entities.get(k)?.records ?? [];
      if (isPermanent(r.error)) park(group, records, r.error);
      else markFailed(records, r.error);
    }
    return results;
  };

  // Phase A: each authority entity decides for its records (duplicate? late for which groups?) and applies its own.
  // Not for redrives completing a parked record: their authority decided them long ago (step 7).
  const decisions = new Map<string, Decision>();
  const fresh = candidates.filter((c) => !c.redrive);
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
    const results: Map<string, Committed<Map<string, Decision>>> = await commit(
      authority,
      entities,
      (key, base, buckets) => {
        const state = base; // a private copy: the store returns copies, and a conflict reloads
        const info = new Map<string, Decision>();
        let changed = false;
        const records = entities.get(entityKeyOf(key))?.records ?? [];
        // Ids the entity already holds are settled (saved with the events they decided): only
        // those may move to buckets. This batch's go into the entity, with their events.
        const settled = Object.keys(state.recent);
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
          if (alreadyProcessed(state, c)) {
            info.set(
              c.recordId,
              own
                ? { kind: 'owner', lateGroups: own.lg ?? [] }
                : seen
                  ? { kind: 'duplicate', owner: seen.r }
                  : { kind: 'forgotten' },
            );
            continue;
          }
          if (!changed) expireMovedIds(state, authority, now);
          changed = true;
          advanceCheckpoint(state, c);
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
          info.set(c.recordId, { kind: 'owner', lateGroups });
        }
        const batchIds = new Set(records.map((c) => c.event.eventId));
        const out = { state, changed, info };
        if (changed) {
          for (const [k, entry] of pins) if (!recentEntry(state, k)) remember(state, k, entry);
          // Ids move before pruning: an id a bucket can take is not evicted (which raises the floor).
          // Not the ids of this batch's records (a redelivery of them reads them here, as pruning
          // keeps them), nor ids past the horizon (pruning drops them).
          const movable: [string, RecentEvent][] = [];
          for (const k of settled) {
            const entry = recentEntry(state, k);
            if (entry && !batchIds.has(eventIdOfKey(k)) && !isForgotten(state, authority, entry.t))
              movable.push([k, entry]);
          }
          const moved = idsToMove(authority, key, state, movable, deps.entities, now);
          if (moved.length > 0) moves.set(out, moved);
          pruneState(state, authority, batchIds);
        }
        return out;
      },
      {
        companions: bucketsOf,
        beforeSave: (computed) => moveIds(deps.entities, authority, computed, moves, now),
      },
    );
    for (const r of results.values()) if (r.ok) for (const [id, d] of r.info) decisions.set(id, d);
  }

  // Redrives completing parked records (step 7): each parked entry is completed by its first copy
  // that names the same bytes, for the groups the entry still lists; any other copy is a duplicate of
  // the parked record (the entry is gone once a copy completed it).
  const completing = await resolveCompletions(
    candidates.filter((c) => c.redrive),
    deps.sideOutput,
    decisions,
    markFailed,
  );

  // Phase B: the other groups apply the decisions, for the records before the first failure.
  for (const group of groupsByName.values()) {
    const mine = candidates.filter((c) => {
      const d = decisions.get(c.recordId);
      return (
        c.authority !== group &&
        c.groups.includes(group) &&
        before(c) &&
        d?.kind === 'owner' &&
        !d.lateGroups.includes(group.name) &&
        (d.only === undefined || d.only.includes(group.name))
      );
    });
    if (mine.length === 0) continue;
    const entities = byEntity(group, mine);
    await commit(group, entities, (key, base) => {
      const state = base; // a private copy: the store returns copies, and a conflict reloads
      let changed = false;
      for (const c of entities.get(entityKeyOf(key))?.records ?? []) {
        if (alreadyProcessed(state, c)) continue;
        advanceCheckpoint(state, c);
        applyEvent(state, group, c);
        changed = true;
      }
      if (changed) pruneState(state, group);
      return { state, changed, info: null };
    });
  }

  // Phase C: side outputs and feature history for the records before the first failure.
  const done = candidates.filter((c) => before(c) && !stillParked.has(c.recordId));
  const outputs = buildOutputs({
    quarantined,
    candidates: done,
    decisions,
    groupsByName,
    parked,
  });
  const [offlineResults, sideResults] = await Promise.all([
    deps.offline.append(outputs.offline.map((o) => o.batch)),
    deps.sideOutput.put(outputs.side),
  ]);
  offlineResults.forEach((r, i) => {
    if (isFailed(r)) markFailed(outputs.offline[i]?.records ?? [], r.failed);
  });
  sideResults.forEach((r, i) => {
    const e = outputs.side[i];
    if (isFailed(r) && e) markFailed([{ paddedSequence: paddedOf.get(e.recordId) as string }], r.failed);
  });
  // Completed parked records leave parked/ once all of their copy's writes are done. A redelivery of
  // the copy before that finds the groups' checkpoints past it, and removes the entry then.
  const completed = [...completing].filter(([, c]) => before(c) && !stillParked.has(c.recordId));
  if (completed.length > 0) {
    const removed = await deps.sideOutput.removeParked(completed.map(([key]) => key));
    removed.forEach((r, i) => {
      const c = completed[i]?.[1];
      if (isFailed(r) && c) markFailed([c], r.failed);
    });
  }

  // Outcomes of the records before the first failure; everything from it on is redelivered.
  const candidateOf = new Map(candidates.map((c) => [c.recordId, c]));
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
    const again = stillParked.has(record.recordId);
    if (p || again) parkedDone++;
    const outcome =
      (p && p.groups === undefined) || again
        ? 'quarantined'
        : outcomeOf(record, quarantined, decisions, candidateOf);
    outcomes.set(record.recordId, outcome);
    counts[outcome]++;
  }
  return { outcomes, counts, failed, errors, parked: parkedDone, parkErrors };
}

/**
 * Decides the redrives of parked records: the first copy of each entry completes it if the entry
 * still exists and names the copy's bytes (its decision: owner, for the entry's groups only); any
 * other copy is a duplicate of the parked record. Returns the completing copy of each entry key.
 */
async function resolveCompletions(
  copies: readonly Candidate[],
  sideOutput: SideOutput,
  decisions: Map<string, Decision>,
  markFailed: (cs: readonly Candidate[], error: Error) => void,
): Promise<Map<string, Candidate>> {
  const completing = new Map<string, Candidate>();
  if (copies.length === 0) return completing;
  const first = new Map<string, Candidate>();
  for (const c of copies) {
    const key = (c.redrive as RedriveOf).parked;
    if (first.has(key)) decisions.set(c.recordId, { kind: 'duplicate', owner: recordIdOfParkedKey(key) });
    else first.set(key, c);
  }
  const keys = [...first.keys()];
  const entries = await sideOutput.parked(keys);
  keys.forEach((key, i) => {
    const c = first.get(key) as Candidate;
    const entry = entries[i];
    if (isFailed(entry)) {
      markFailed([c], entry.failed);
      return;
    }
    const owner = entry?.recordId ?? recordIdOfParkedKey(key);
    if (!entry?.groups || entry.dataSha256 !== c.redrive?.dataSha256) {
      decisions.set(c.recordId, { kind: 'duplicate', owner });
      return;
    }
    const groups = entry.groups;
    decisions.set(c.recordId, {
      kind: 'owner',
      lateGroups: [],
      only: c.groups.filter((g) => groups.includes(g.name)).map((g) => g.name),
    });
    completing.set(key, c);
  });
  return completing;
}

/** A permanent failure in a side-output reason: its kind and DynamoDB's (or the defect's) words, never a value. */
function describePermanent(error: Error): string {
  const cause = error.cause instanceof Error ? error.cause : error;
  return `${cause.name}: ${cause.message}`.slice(0, 300);
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
