/**
 * Compares what the processor left in the stores with the brute-force reference
 * (local/reference-features.ts) fed the same events in send order. Returns the differences as
 * readable lines (empty when everything matches), so a shrunk counterexample says what went wrong.
 */
import type {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import { idBucketStart } from '../../lambdas/core/id-buckets.js';
import type { Tokenizer } from '../../lambdas/core/ports.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import {
  type ReferenceEntity,
  referenceFeatures,
  referenceWindow,
  windowsOf,
} from '../../local/reference-features.js';
import type { FeatureGroup } from '../../schemas/index.js';
import { transaction } from '../../schemas/transaction.contract.js';
import type { Sent } from './stream-scenarios.js';

export interface Stores {
  readonly entities: InMemoryEntityStore;
  readonly offline: InMemoryOfflineSink;
  readonly side: InMemorySideOutput;
}

const MINUTE = 60_000;

/** A readable stand-in for the PII tokenizer, so the reference can predict tokens. */
export const testToken = (field: string, value: string): string => `tok_${field}:${value}`;
export const testTokenizer: Tokenizer = {
  tokenize: async (items) => items.map((i) => testToken(i.field, i.value)),
};
/** Instants windows are read at, after an entity's newest event (reads are never older than that). */
const READ_OFFSETS = [0, 2 * MINUTE, 45 * MINUTE, 23 * 60 * MINUTE];

export function differencesFromReference(
  sent: readonly Sent[],
  groups: readonly FeatureGroup[],
  stores: Stores,
): string[] {
  const problems: string[] = [];
  const reference = referenceFeatures(
    sent.flatMap((s) =>
      s.kind === 'malformed'
        ? []
        : [{ contract: transaction, fields: { ...s.fields } as Record<string, unknown> }],
    ),
    () => groups,
  );

  // (b) every record accounted for exactly once, from the stores themselves
  const appliedIds = new Set<string>();
  for (const g of groups)
    for (const row of stores.offline.rows(g.name, g.entity.name)) appliedIds.add(row.eventId);
  const got = {
    applied: appliedIds.size,
    duplicates: stores.side.ofKind('duplicate').length,
    late: stores.side.ofKind('late').filter((e) => e.outcome === 'late').length,
    quarantined: stores.side.ofKind('quarantine').length,
  };
  const expected = {
    ...reference.counts,
    quarantined: sent.filter((s) => s.kind === 'malformed').length,
  };
  if (JSON.stringify(got) !== JSON.stringify(expected))
    problems.push(`outcome counts ${JSON.stringify(got)}, reference ${JSON.stringify(expected)}`);
  const accounted = got.applied + got.duplicates + got.late + got.quarantined;
  if (accounted !== sent.length) problems.push(`${accounted} records accounted for, ${sent.length} sent`);

  // offline history: per group, exactly the events the reference applied to it
  for (const g of groups) {
    const inStore = new Set(
      stores.offline.rows(g.name, g.entity.name).map((r) => `${r.entityId}/${r.eventId}`),
    );
    const inReference = new Set(
      [...reference.entities.values()]
        .filter((e) => e.group === g.name)
        .flatMap((e) => e.events.map((ev) => `${e.entityId}/${ev.eventId}`)),
    );
    const missing = [...inReference].filter((k) => !inStore.has(k));
    const extra = [...inStore].filter((k) => !inReference.has(k));
    if (missing.length) problems.push(`offline ${g.name}: missing ${missing.slice(0, 5).join(', ')}`);
    if (extra.length)
      problems.push(`offline ${g.name}: not in the reference ${extra.slice(0, 5).join(', ')}`);
  }

  // (a) online states: latest values and every window, for every entity, and no other entity
  const byName = new Map(groups.map((g) => [g.name, g]));
  for (const ref of reference.entities.values()) {
    const group = byName.get(ref.group) as FeatureGroup;
    problems.push(...entityDifferences(group, ref, stores.entities));
  }
  // Id buckets: each belongs to an entity the reference has, and holds only the ids of its second.
  for (const [key, item] of stores.entities.items) {
    const bucket = /^([^#]+)\/ids#(.+)@(\d+)$/.exec(key);
    if (!bucket) {
      if (!reference.entities.has(key)) problems.push(`${key}: stored, but the reference has no such entity`);
      continue;
    }
    const [, group, entityId, start] = bucket;
    if (!reference.entities.has(`${group}#${entityId}`))
      problems.push(`${key}: an id bucket of an entity the reference does not have`);
    for (const [id, seen] of Object.entries(item.state.recent))
      if (idBucketStart(seen.t) !== Number(start)) problems.push(`${key}: holds ${id} of another second`);
  }
  return problems;
}

function entityDifferences(group: FeatureGroup, ref: ReferenceEntity, store: InMemoryEntityStore): string[] {
  const where = `${group.name}#${ref.entityId}`;
  const state = store.state(group.name, ref.entityId);
  if (!state) return [`${where}: missing from the online store`];
  const problems: string[] = [];
  const refLatest = { ...ref.latest, values: { ...ref.latest.values } };
  for (const f of group.features)
    if (f.kind === 'latest' && f.classification === 'pii' && typeof refLatest.values[f.name] === 'string')
      refLatest.values[f.name] = testToken(f.field, refLatest.values[f.name] as string);
  const latest = state.latest && {
    eventId: state.latest.eventId,
    eventTime: state.latest.eventTime,
    values: state.latest.values,
  };
  if (JSON.stringify(latest) !== JSON.stringify(refLatest))
    problems.push(`${where}: latest ${JSON.stringify(latest)}, reference ${JSON.stringify(refLatest)}`);
  const newest = Math.max(...ref.events.map((e) => e.eventTime));
  if (state.maxEventTime !== newest)
    problems.push(`${where}: newest event time ${state.maxEventTime}, reference ${newest}`);
  for (const offset of READ_OFFSETS) {
    const asOf = newest + offset;
    const windows = evaluateWindows(group, state.tiles, asOf);
    for (const f of windowsOf(group)) {
      const want = referenceWindow(f, ref.events, asOf);
      if (windows[f.name] !== want)
        problems.push(
          `${where}: ${f.name} at newest+${offset / MINUTE}m is ${windows[f.name]}, reference ${want}`,
        );
    }
  }
  return problems;
}
