/**
 * One batch of stream records -> online store, offline store and side outputs, exactly once in
 * effect. Every record ends in exactly one outcome: applied, duplicate, quarantined or late.
 *
 * Why it is exactly once (issue 2's design; windowed aggregates will extend it):
 * - An event is owned by the first record that claims its id in the ledger (conditional put, which
 *   the same record passes again on redelivery). A producer retry under a new sequence number finds
 *   the claim and is a duplicate; a redelivered record finds its own claim and is re-applied.
 * - Re-applying is harmless: the online write is guarded by (eventTime, eventId), so the same event
 *   is a no-op and an older one never overwrites a newer; offline and side-output objects are named
 *   after the records they hold, so a redelivered batch rewrites them instead of adding copies.
 * - Lateness is judged against the record's own arrival time, which Kinesis fixes, so a redelivery
 *   decides exactly as the first delivery did.
 * - Whatever write fails marks its records failed; the handler reports the lowest, Lambda redelivers
 *   from there, and the steps above make the replayed prefix a no-op.
 */
import type { EventContract, FeatureGroup } from '../../schemas/index.js';
import { decodeRecord, type InputRecord, type ValidEvent } from './decode.js';
import { newestPerEntity, toFeatureRecord, utcDate } from './latest-values.js';
import type {
  EventClaim,
  EventLedger,
  FeatureRecord,
  OfflineBatch,
  OfflineSink,
  OnlineStore,
  SideOutput,
  SideOutputEntry,
} from './ports.js';
import { isFailed } from './ports.js';
import { compareSequence } from './sequence.js';

export type Outcome = 'applied' | 'duplicate' | 'quarantined' | 'late';

export interface ProcessorDeps {
  readonly contracts: ReadonlyMap<string, EventContract>;
  readonly groupsFedBy: (contractName: string) => readonly FeatureGroup[];
  readonly online: OnlineStore;
  readonly ledger: EventLedger;
  readonly offline: OfflineSink;
  readonly sideOutput: SideOutput;
}

export interface BatchResult {
  /** Outcome per record id, for the records that completed. */
  readonly outcomes: ReadonlyMap<string, Outcome>;
  readonly counts: Readonly<Record<Outcome, number>>;
  /** Sequence numbers of the records that did not complete, ascending; redeliver from the first. */
  readonly failed: readonly string[];
  /** Why they failed (store errors), for the log; never record contents. */
  readonly errors: readonly Error[];
}

interface Candidate {
  readonly record: InputRecord;
  readonly event: ValidEvent;
  readonly lateFor: readonly FeatureGroup[];
  readonly onTimeFor: readonly FeatureGroup[];
}

const eventKeyOf = (e: ValidEvent) => `${e.contract.name}#${e.eventId}`;

export async function processBatch(
  records: readonly InputRecord[],
  deps: ProcessorDeps,
): Promise<BatchResult> {
  const outcomes = new Map<string, Outcome>();
  const failedIds = new Set<string>();
  const errors: Error[] = [];
  const fail = (recordIds: Iterable<string>, error: Error) => {
    for (const id of recordIds) failedIds.add(id);
    errors.push(error);
  };
  const side: SideOutputEntry[] = [];
  const entry = (record: InputRecord, kind: SideOutputEntry['kind'], reason: string, groups?: string[]) =>
    side.push({
      kind,
      recordId: record.recordId,
      shardId: record.shardId,
      partitionKey: record.partitionKey,
      arrivalTime: record.arrivalTime,
      reason,
      data: record.data,
      ...(groups ? { groups } : {}),
    });

  // 1. Decode and validate; split by lateness; first record of an event id in the batch is its candidate.
  const candidates: Candidate[] = [];
  const firstInBatch = new Map<string, InputRecord>();
  for (const record of records) {
    const decoded = decodeRecord(record, deps.contracts);
    if (!decoded.ok) {
      outcomes.set(record.recordId, 'quarantined');
      entry(record, 'quarantine', decoded.reason);
      continue;
    }
    const key = eventKeyOf(decoded.event);
    const owner = firstInBatch.get(key);
    if (owner) {
      outcomes.set(record.recordId, 'duplicate');
      entry(record, 'duplicate', `event ${key} is already carried by record ${owner.recordId}`);
      continue;
    }
    firstInBatch.set(key, record);
    const groups = deps.groupsFedBy(decoded.event.contract.name);
    const lateFor = groups.filter((g) => decoded.event.eventTime < record.arrivalTime - g.allowedLatenessMs);
    candidates.push({
      record,
      event: decoded.event,
      lateFor,
      onTimeFor: groups.filter((g) => !lateFor.includes(g)),
    });
  }

  // 2. Claim each event id for its record (also records the outcome for the audit).
  const claims: EventClaim[] = candidates.map((c) => ({
    eventKey: eventKeyOf(c.event),
    recordId: c.record.recordId,
    eventTime: c.event.eventTime,
    outcome: c.lateFor.length > 0 && c.onTimeFor.length === 0 ? 'late' : 'applied',
  }));
  const claimResults = await deps.ledger.claim(claims);
  const owned: Candidate[] = [];
  candidates.forEach((c, i) => {
    const result = claimResults[i];
    if (result === undefined || isFailed(result)) {
      fail([c.record.recordId], result?.failed ?? new Error('ledger returned no result'));
    } else if (result === 'claimed') {
      owned.push(c);
      outcomes.set(c.record.recordId, (claims[i] as EventClaim).outcome);
      if (c.lateFor.length > 0) {
        const names = c.lateFor.map((g) => g.name);
        const lateness = c.lateFor.map((g) => `${g.name} ${g.allowedLatenessMs / 1000}s`).join(', ');
        entry(
          c.record,
          'late',
          `event time is beyond the allowed lateness behind arrival (${lateness})`,
          names,
        );
      }
    } else {
      outcomes.set(c.record.recordId, 'duplicate');
      entry(
        c.record,
        'duplicate',
        `event ${eventKeyOf(c.event)} is already carried by record ${result.duplicateOf}`,
      );
    }
  });

  // 3. Feature records of the owned, on-time events: newest per entity online, all of them offline.
  const produced: { record: InputRecord; feature: FeatureRecord }[] = [];
  for (const c of owned) {
    for (const group of c.onTimeFor) {
      produced.push({ record: c.record, feature: toFeatureRecord(group, c.event, c.record.arrivalTime) });
    }
  }
  const sourceOf = new Map(produced.map((p) => [p.feature, p.record]));
  const newest = newestPerEntity(produced.map((p) => p.feature));
  const offline = offlineBatches(produced);

  // 4. Write everything; a failed write fails exactly the records it carried.
  const [onlineResults, offlineResults, sideResults] = await Promise.all([
    deps.online.putLatest(newest),
    deps.offline.append(offline.map((o) => o.batch)),
    deps.sideOutput.put(side),
  ]);
  onlineResults.forEach((r, i) => {
    if (isFailed(r)) fail([(sourceOf.get(newest[i] as FeatureRecord) as InputRecord).recordId], r.failed);
  });
  offlineResults.forEach((r, i) => {
    if (isFailed(r)) fail((offline[i] as { recordIds: string[] }).recordIds, r.failed);
  });
  sideResults.forEach((r, i) => {
    if (isFailed(r)) fail([(side[i] as SideOutputEntry).recordId], r.failed);
  });

  const counts: Record<Outcome, number> = { applied: 0, duplicate: 0, quarantined: 0, late: 0 };
  const bySequence = new Map(records.map((r) => [r.recordId, r.sequenceNumber]));
  for (const id of failedIds) outcomes.delete(id);
  for (const outcome of outcomes.values()) counts[outcome]++;
  const failed = [...failedIds].map((id) => bySequence.get(id) as string).sort(compareSequence);
  return { outcomes, counts, failed, errors };
}

/** Offline rows grouped by group and UTC date, each batch named after the records it holds. */
function offlineBatches(produced: readonly { record: InputRecord; feature: FeatureRecord }[]) {
  const byPartition = new Map<string, { record: InputRecord; feature: FeatureRecord }[]>();
  for (const p of produced) {
    const key = `${p.feature.group}/${utcDate(p.feature.eventTime)}`;
    byPartition.set(key, [...(byPartition.get(key) ?? []), p]);
  }
  return [...byPartition.values()].map((items) => {
    const first = items[0] as (typeof items)[number];
    const sorted = items
      .map((i) => i.record)
      .sort((a, b) => compareSequence(a.sequenceNumber, b.sequenceNumber));
    const lo = sorted[0] as InputRecord;
    const hi = sorted[sorted.length - 1] as InputRecord;
    const batch: OfflineBatch = {
      group: first.feature.group,
      dt: utcDate(first.feature.eventTime),
      batchId: `${lo.shardId}-${lo.sequenceNumber}-${hi.sequenceNumber}`,
      rows: items.map(({ feature: f }) => ({
        entityId: f.entityId,
        eventTime: f.eventTime,
        eventId: f.eventId,
        ingestionTime: f.ingestionTime,
        contractVersion: f.contractVersion,
        values: f.values,
      })),
    };
    return { batch, recordIds: items.map((i) => i.record.recordId) };
  });
}
