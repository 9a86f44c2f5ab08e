/**
 * What a batch writes besides entity states: side-output entries (quarantine, duplicate, late)
 * and offline rows (each group's feature history, each contract's raw events), grouped by dataset
 * and UTC date, and named after their records.
 */
import { createHash } from 'node:crypto';
import { offlineEventsPrefix, offlineGroupPrefix } from '../../lib/platform-spec.js';
import type { EventContract, FeatureGroup, OfflineColumn } from '../../schemas/index.js';
import { eventColumns, latestFeatures, offlineColumns } from '../../schemas/index.js';
import { perDefinition } from '../../schemas/per-definition.js';
import { dataSha256, type InputRecord } from './decode.js';
import { featureValueOf, utcDate } from './latest-values.js';
import type { OfflineBatch, SideOutputEntry } from './ports.js';
import type { Candidate, Decision, Parked } from './process-batch.js';

/** Where a side-output entry is kept: `<kind>/dt=<arrival yyyy-mm-dd>/<shardId>/<sequenceNumber>.json`. */
export const sideOutputKey = (e: Pick<SideOutputEntry, 'kind' | 'recordId' | 'arrivalTime'>): string => {
  const [shardId, sequenceNumber] = e.recordId.split(':');
  return `${e.kind}/dt=${utcDate(e.arrivalTime)}/${shardId}/${sequenceNumber}.json`;
};

/** The record a parked entry's key is for (`<shardId>:<sequenceNumber>`). */
export const recordIdOfParkedKey = (key: string): string => {
  const [shardId = '', file = ''] = key.split('/').slice(-2);
  return `${shardId}:${file.replace(/\.json$/, '')}`;
};

export interface BatchOutputs {
  readonly side: SideOutputEntry[];
  readonly offline: { readonly batch: OfflineBatch; readonly records: readonly Candidate[] }[];
}

const entry = (
  record: InputRecord,
  kind: SideOutputEntry['kind'],
  reason: string,
  extra: Partial<SideOutputEntry> = {},
): SideOutputEntry => ({
  kind,
  recordId: record.recordId,
  shardId: record.shardId,
  partitionKey: record.partitionKey,
  arrivalTime: record.arrivalTime,
  reason,
  data: record.data,
  ...extra,
});

/**
 * How one contract's events become raw-event rows: each field but the id and time, with its type, in
 * the order of eventColumns after its four fixed columns.
 */
const rawPlanOf = perDefinition((contract: EventContract) =>
  (Object.keys(contract.fieldTypes) as string[])
    .filter((f) => f !== contract.eventIdField && f !== contract.eventTimeField)
    .map((f) => [f, contract.fieldTypes[f as keyof typeof contract.fieldTypes] ?? 'string'] as const),
);

interface Partition {
  readonly prefix: string;
  readonly dt: string;
  readonly columns: OfflineColumn[];
  readonly cells: unknown[][];
  readonly records: Candidate[];
}
// Dataset prefixes made once, so the hot loop looks up strings already hashed.
const eventsPrefixOf = perDefinition((contract: EventContract) => offlineEventsPrefix(contract.name));
const groupPrefixOf = perDefinition((group: FeatureGroup) => offlineGroupPrefix(group.name));

export function buildOutputs(input: {
  readonly quarantined: ReadonlyMap<InputRecord, string>;
  readonly candidates: readonly Candidate[];
  readonly decisions: ReadonlyMap<string, Decision>;
  readonly groupsByName: ReadonlyMap<string, FeatureGroup>;
  /** Records parked (whole, or for the groups named), by record id: no rows of what was not applied. */
  readonly parked?: ReadonlyMap<string, Parked>;
}): BatchOutputs {
  const side: SideOutputEntry[] = [];
  for (const [record, reason] of input.quarantined) side.push(entry(record, 'quarantine', reason));
  // Partitions by dataset prefix, then UTC date. Prefixes are made once per dataset and dates come
  // memoised, so the hot loop looks up strings it has hashed before instead of building new ones.
  // Rows go straight into column arrays (as Parquet stores them): no object per row.
  const partitions = new Map<string, Map<string, Partition>>();
  const partition = (prefix: string, dt: string, columns: () => OfflineColumn[]): Partition => {
    let byDate = partitions.get(prefix);
    if (!byDate) {
      byDate = new Map();
      partitions.set(prefix, byDate);
    }
    let p = byDate.get(dt);
    if (!p) {
      const cs = columns();
      p = { prefix, dt, columns: cs, cells: cs.map(() => []), records: [] };
      byDate.set(dt, p);
    }
    return p;
  };
  for (const c of input.candidates) {
    const parked = input.parked?.get(c.recordId);
    // A redrive refused again has no entry of its own (the one it carries stays): only its rows are kept back.
    if (parked && !parked.copy) {
      const reason = `parked: ${parked.reasons.join('; ')}`;
      // A redrive that completes no entry is parked as any record is, with the bytes it carries (a
      // redrive of it wraps them again).
      const data = c.redrive?.data ?? c.record.data;
      side.push(
        entry(c.record, 'parked', reason, {
          ...(parked.groups ? { groups: parked.groups, outcome: 'applied' } : { outcome: 'quarantined' }),
          data,
          dataSha256: c.redrive?.dataSha256 ?? dataSha256(data),
        }),
      );
      if (!parked.groups) continue;
    }
    const d = input.decisions.get(c.recordId);
    if (d?.kind === 'duplicate') {
      side.push(entry(c.record, 'duplicate', `its event id is already carried by record ${d.owner}`));
      continue;
    }
    if (d?.kind !== 'owner') continue;
    const allLate = d.lateGroups.length === c.groups.length;
    if (d.lateGroups.length > 0) {
      const lateness = c.groups
        .filter((g) => d.lateGroups.includes(g.name))
        .map((g) => `${g.name} ${g.allowedLatenessMs / 1000}s`);
      const reason = `event time is before the ${c.authority.name} watermark by more than the allowed lateness (${lateness.join(', ')})`;
      side.push(
        entry(c.record, 'late', reason, { groups: d.lateGroups, outcome: allLate ? 'late' : 'applied' }),
      );
    }
    if (allLate) continue;
    const { event } = c;
    const { contract, fields } = event;
    const dt = utcDate(event.eventTime);
    let cells: unknown[][];
    // A redrive completing a parked record: the rows of the groups it completes, nothing else (its
    // raw event and the other groups' rows were written with the record it copies).
    if (d.only === undefined) {
      // The raw event, in the contract's current shape (PII already tokenized): eventColumns' order.
      const raw = partition(eventsPrefixOf(contract), dt, () => eventColumns(contract));
      cells = raw.cells;
      (cells[0] as unknown[]).push(event.eventId);
      (cells[1] as unknown[]).push(event.eventTime);
      (cells[2] as unknown[]).push(c.arrivalTime);
      (cells[3] as unknown[]).push(event.contractVersion);
      const plan = rawPlanOf(contract);
      for (let i = 0; i < plan.length; i++) {
        const [field, type] = plan[i] as (typeof plan)[number];
        (cells[4 + i] as unknown[]).push(featureValueOf(fields[field], type));
      }
      raw.records.push(c);
    }
    for (const group of c.groups) {
      if (d.lateGroups.length > 0 && d.lateGroups.includes(group.name)) continue;
      if (d.only !== undefined && !d.only.includes(group.name)) continue;
      if (parked?.groups?.includes(group.name)) continue; // written when it is applied (redrive)
      // offlineColumns' order: entity, event time, event id, ingestion time, version, features.
      const history = partition(groupPrefixOf(group), dt, () => offlineColumns(group));
      cells = history.cells;
      (cells[0] as unknown[]).push(String(fields[group.entity.field]));
      (cells[1] as unknown[]).push(event.eventTime);
      (cells[2] as unknown[]).push(event.eventId);
      (cells[3] as unknown[]).push(c.arrivalTime);
      (cells[4] as unknown[]).push(event.contractVersion);
      const features = latestFeatures(group);
      for (let i = 0; i < features.length; i++) {
        const f = features[i] as (typeof features)[number];
        (cells[5 + i] as unknown[]).push(featureValueOf(fields[f.field], f.type));
      }
      history.records.push(c);
    }
  }
  const offline = [...partitions.values()]
    .flatMap((byDate) => [...byDate.values()])
    .map(({ prefix, dt, columns, cells, records }) => {
      const lo = records[0] as Candidate;
      const hi = records[records.length - 1] as Candidate;
      const batch: OfflineBatch = {
        prefix,
        dt,
        // First, last, how many, and a digest of exactly which: a rewrite of the same rows keeps the
        // name (a redelivery overwrites its object), other rows over the same range get a new one (a
        // replay that leaves out records whose decisions were forgotten, and takes in a record that
        // was parked for this group and completed since, must not overwrite the original).
        batchId:
          `${lo.shardId}-${lo.record.sequenceNumber}-${hi.record.sequenceNumber}-${records.length}-` +
          createHash('sha256')
            .update(records.map((r) => r.recordId).join('\n'))
            .digest('hex')
            .slice(0, 12),
        columns,
        cells,
      };
      return { batch, records };
    });
  return { side, offline };
}
