/**
 * What a batch writes besides entity states: side-output entries (quarantine, duplicate, late)
 * and offline feature-history rows, grouped by group and UTC date and named after their records.
 */
import type { FeatureGroup } from '../../schemas/index.js';
import { latestFeatures } from '../../schemas/index.js';
import type { InputRecord } from './decode.js';
import { featureValueOf, utcDate } from './latest-values.js';
import type { FeatureValue, OfflineBatch, SideOutputEntry } from './ports.js';
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
  readonly withinBatchDuplicates: ReadonlyMap<InputRecord, string>;
  readonly candidates: readonly Candidate[];
  readonly decisions: ReadonlyMap<string, Decision>;
  readonly groupsByName: ReadonlyMap<string, FeatureGroup>;
}): BatchOutputs {
  const side: SideOutputEntry[] = [];
  for (const [record, reason] of input.quarantined) side.push(entry(record, 'quarantine', reason));
  for (const [record, owner] of input.withinBatchDuplicates) {
    side.push(entry(record, 'duplicate', `its event id is already carried by record ${owner}`));
  }
  const partitions = new Map<string, { group: FeatureGroup; dt: string; records: Candidate[] }>();
  for (const c of input.candidates) {
    const d = input.decisions.get(c.recordId);
    if (d?.kind === 'duplicate') {
      side.push(entry(c.record, 'duplicate', `its event id is already carried by record ${d.owner}`));
      continue;
    }
    if (d?.kind !== 'owner') continue;
    if (d.lateGroups.length > 0) {
      const lateness = c.groups
        .filter((g) => d.lateGroups.includes(g.name))
        .map((g) => `${g.name} ${g.allowedLatenessMs / 1000}s`);
      side.push(
        entry(
          c.record,
          'late',
          `event time is before the ${c.authority.name} watermark by more than the allowed lateness (${lateness.join(', ')})`,
          {
            groups: d.lateGroups,
            outcome: d.lateGroups.length === c.groups.length ? 'late' : 'applied',
          },
        ),
      );
    }
    for (const group of c.groups) {
      if (d.lateGroups.includes(group.name)) continue;
      const dt = utcDate(c.event.eventTime);
      const key = `${group.name}/${dt}`;
      const p = partitions.get(key) ?? { group, dt, records: [] };
      p.records.push(c);
      partitions.set(key, p);
    }
  }
  const offline = [...partitions.values()].map(({ group, dt, records }) => {
    const lo = records[0] as Candidate;
    const hi = records[records.length - 1] as Candidate;
    const batch: OfflineBatch = {
      group: group.name,
      dt,
      batchId: `${lo.shardId}-${lo.record.sequenceNumber}-${hi.record.sequenceNumber}`,
      rows: records.map((c) => {
        const values: Record<string, FeatureValue> = {};
        for (const f of latestFeatures(group))
          values[f.name] = featureValueOf(c.event.fields[f.field], f.type);
        return {
          entityId: String(c.event.fields[group.entity.field]),
          eventTime: c.event.eventTime,
          eventId: c.event.eventId,
          ingestionTime: c.arrivalTime,
          contractVersion: c.event.contractVersion,
          values,
        };
      }),
    };
    return { batch, records };
  });
  return { side, offline };
}
