/**
 * What a batch writes besides entity states: side-output entries (quarantine, duplicate, late)
 * and offline rows (each group's feature history, each contract's raw events), grouped by dataset
 * and UTC date, and named after their records.
 */
import { offlineGroupPrefix } from '../../lib/platform-spec.js';
import type { FeatureGroup, OfflineColumn } from '../../schemas/index.js';
import { columnName, eventColumns, offlineColumns } from '../../schemas/index.js';
import type { InputRecord } from './decode.js';
import { featureValueOf, latestValuesOf, utcDate } from './latest-values.js';
import type { OfflineBatch, SideOutputEntry } from './ports.js';
import type { Candidate, Decision } from './process-batch.js';

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

export function buildOutputs(input: {
  readonly quarantined: ReadonlyMap<InputRecord, string>;
  readonly candidates: readonly Candidate[];
  readonly decisions: ReadonlyMap<string, Decision>;
  readonly groupsByName: ReadonlyMap<string, FeatureGroup>;
}): BatchOutputs {
  const side: SideOutputEntry[] = [];
  for (const [record, reason] of input.quarantined) side.push(entry(record, 'quarantine', reason));
  const partitions = new Map<
    string,
    {
      prefix: string;
      dt: string;
      columns: OfflineColumn[];
      rows: Record<string, unknown>[];
      records: Candidate[];
    }
  >();
  const add = (
    prefix: string,
    dt: string,
    columns: () => OfflineColumn[],
    row: Record<string, unknown>,
    c: Candidate,
  ) => {
    const key = `${prefix}${dt}`;
    const p = partitions.get(key) ?? { prefix, dt, columns: columns(), rows: [], records: [] };
    p.rows.push(row);
    p.records.push(c);
    partitions.set(key, p);
  };
  for (const c of input.candidates) {
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
    const dt = utcDate(c.event.eventTime);
    const meta = {
      event_id: c.event.eventId,
      event_time: c.event.eventTime,
      ingestion_time: c.arrivalTime,
      contract_version: c.event.contractVersion,
    };
    // The raw event, in the contract's current shape (PII already tokenized).
    const contract = c.event.contract;
    const raw: Record<string, unknown> = { ...meta };
    for (const [field, value] of Object.entries(c.event.fields)) {
      if (field !== contract.eventIdField && field !== contract.eventTimeField) {
        raw[columnName(field)] = featureValueOf(
          value,
          contract.fieldTypes[field as keyof typeof contract.fieldTypes] ?? 'string',
        );
      }
    }
    add(`events/contract=${contract.name}/`, dt, () => eventColumns(contract), raw, c);
    for (const group of c.groups) {
      if (d.lateGroups.includes(group.name)) continue;
      const row: Record<string, unknown> = {
        [group.entity.name]: String(c.event.fields[group.entity.field]),
        ...meta,
        ...latestValuesOf(group, c.event.fields),
      };
      add(offlineGroupPrefix(group.name), dt, () => offlineColumns(group), row, c);
    }
  }
  const offline = [...partitions.values()].map(({ prefix, dt, columns, rows, records }) => {
    const lo = records[0] as Candidate;
    const hi = records[records.length - 1] as Candidate;
    const batch: OfflineBatch = {
      prefix,
      dt,
      // First, last and how many: a replay that leaves out records whose decisions were forgotten
      // (pruned) writes a new object instead of overwriting the original with fewer rows. Within one
      // range the records written can only shrink that way, so the count tells the sets apart.
      batchId: `${lo.shardId}-${lo.record.sequenceNumber}-${hi.record.sequenceNumber}-${records.length}`,
      columns,
      rows,
    };
    return { batch, records };
  });
  return { side, offline };
}
