/**
 * The training-set join spec: which features, from which groups, joined to label rows by which
 * entity columns and as of which time column; resolved once against the definitions and checked
 * against the label file's columns before any data is read.
 *
 * Point-in-time rule, for every label row (entity ids, label time L) and requested feature: what
 * the online store served at L, which is everything that had arrived by then.
 * - latest values: those of the entity's newest event (by event time, then event id) among the
 *   rows with ingestion_time <= L (a value that arrived after L was not knowable at L, whatever its
 *   event time: no backfill leakage; one stamped after L by a producer clock ahead of its arrival,
 *   up to the contract's skew, was served from its arrival), and only if that event is within the
 *   group's TTL (event_time + ttl > L, as the lookup API's `expired`); else null;
 * - window aggregates: over the raw events applied to the group with ingestion_time <= L, `exact`
 *   (L - window < event_time <= L) or `tile` (the online store's rule, lambdas/core/tiles.ts: the
 *   tiles from the one holding L - window to the one holding L, whole), null when the entity has no
 *   latest value within the TTL at L (the lookup API says `expired` / `not_found` then), else counts,
 *   sums and distinct counts 0 for an empty window. Until 2026-11-26 both also required
 *   event_time <= L, which the online store does not: an event stamped ahead of its arrival differed.
 */

import { MAX_FUTURE_SKEW_MS } from '../../lambdas/core/decode.js';
import {
  type FeatureGroup,
  featureGroupsByName,
  latestFeatures,
  type ResolvedFeature,
  windowFeatures,
} from '../../schemas/index.js';
import { TrainingSetRequestError } from '../errors.js';

/** `tile`: equal to what the online store serves (train/serve parity). `exact`: the window to the millisecond. */
export type WindowSemantics = 'tile' | 'exact';

export interface TrainingSetRequest {
  /** `<group>:<feature>` references, as the lookup API takes them. */
  readonly features: readonly string[];
  /** @default 'label_time' */
  readonly timeColumn?: string;
  /** Label column per entity name, where it is not named like the entity (`customer_id`). */
  readonly entityColumns?: Readonly<Record<string, string>>;
  /** @default 'tile' */
  readonly windows?: WindowSemantics;
}

export interface SelectedFeature {
  /** `<group>:<feature>` */
  readonly ref: string;
  readonly group: FeatureGroup;
  readonly feature: ResolvedFeature;
  /** Output column: `<group>__<feature>`. */
  readonly column: string;
}

export interface GroupSelection {
  readonly group: FeatureGroup;
  /** The label column holding this group's entity id. */
  readonly entityColumn: string;
  readonly latest: readonly SelectedFeature[];
  readonly windows: readonly SelectedFeature[];
}

export interface TrainingSetSpec {
  /** In the order first requested. */
  readonly groups: readonly GroupSelection[];
  /** In request order: the output's feature columns. */
  readonly features: readonly SelectedFeature[];
  readonly timeColumn: string;
  /** The label file's columns, passed through first, in their order. */
  readonly labelColumns: readonly string[];
  readonly windows: WindowSemantics;
}

/** Names the join uses for itself; label columns may not start with it. */
export const INTERNAL_PREFIX = '__';
export const outputColumn = (group: string, feature: string): string => `${group}__${feature}`;

export function resolveTrainingSet(
  request: TrainingSetRequest,
  labelColumns: readonly string[],
  groups: ReadonlyMap<string, FeatureGroup> = featureGroupsByName,
): TrainingSetSpec {
  const timeColumn = request.timeColumn ?? 'label_time';
  const windows = request.windows ?? 'tile';
  if (windows !== 'tile' && windows !== 'exact')
    throw new TrainingSetRequestError(`window semantics must be "tile" or "exact", not "${String(windows)}"`);
  if (request.features.length === 0) throw new TrainingSetRequestError('no features requested');
  if (!labelColumns.includes(timeColumn)) {
    throw new TrainingSetRequestError(
      `the labels have no time column "${timeColumn}" (columns: ${labelColumns.join(', ')})`,
    );
  }
  const internal = labelColumns.find((c) => c.startsWith(INTERNAL_PREFIX));
  if (internal)
    throw new TrainingSetRequestError(`label column "${internal}" starts with "${INTERNAL_PREFIX}"`);

  const features: SelectedFeature[] = [];
  const seen = new Set<string>();
  for (const ref of request.features) {
    const m = /^([a-z][a-z0-9_]*):([a-z][a-z0-9_]*)$/.exec(ref);
    if (!m) throw new TrainingSetRequestError(`feature "${ref}" is not <group>:<feature>`);
    const [, groupName, featureName] = m as unknown as [string, string, string];
    const group = groups.get(groupName);
    if (!group) {
      throw new TrainingSetRequestError(
        `unknown feature group "${groupName}" (known: ${[...groups.keys()].join(', ')})`,
      );
    }
    const feature = group.features.find((f) => f.name === featureName);
    if (!feature)
      throw new TrainingSetRequestError(`feature group ${groupName} has no feature "${featureName}"`);
    if (seen.has(ref)) throw new TrainingSetRequestError(`feature "${ref}" is requested twice`);
    seen.add(ref);
    const column = outputColumn(groupName, featureName);
    if (labelColumns.includes(column))
      throw new TrainingSetRequestError(`label column "${column}" would collide with the feature column`);
    features.push({ ref, group, feature, column });
  }

  const selections: GroupSelection[] = [];
  for (const group of new Set(features.map((f) => f.group))) {
    const entityColumn = request.entityColumns?.[group.entity.name] ?? group.entity.name;
    if (!labelColumns.includes(entityColumn)) {
      throw new TrainingSetRequestError(
        `the labels have no column "${entityColumn}" with the ${group.name} entity id (${group.entity.name})`,
      );
    }
    const mine = features.filter((f) => f.group === group);
    selections.push({
      group,
      entityColumn,
      latest: mine.filter((f) => f.feature.kind === 'latest'),
      windows: mine.filter((f) => f.feature.kind === 'window'),
    });
  }
  return { groups: selections, features, timeColumn, labelColumns: [...labelColumns], windows };
}

/** Every latest and window feature of a group, as references (`customer:*`). */
export const allFeatureRefs = (group: FeatureGroup): string[] => [
  ...latestFeatures(group).map((f) => `${group.name}:${f.name}`),
  ...windowFeatures(group).map((f) => `${group.name}:${f.name}`),
];

/** The event-time span each dataset must be read over, for labels between `from` and `to` (epoch ms). */
export interface ReadRange {
  readonly from: number;
  readonly to: number;
}

/** The longest reach of a group's requested windows back from the label time, tile included. */
export const windowReachMs = (s: GroupSelection): number =>
  Math.max(0, ...s.windows.map((f) => (f.feature.windowMs ?? 0) + (f.feature.tileMs ?? 0)));

/** Feature history: back to the TTL. Raw events: back to the longest window (and its oldest tile). */
export function readRanges(
  spec: TrainingSetSpec,
  labels: ReadRange,
): { history: Map<FeatureGroup, ReadRange>; events: Map<string, ReadRange> } {
  const history = new Map<FeatureGroup, ReadRange>();
  const events = new Map<string, ReadRange>();
  // A row visible at L may be stamped up to the largest clock skew any contract allows after it (it
  // arrived by L), so in the next day's partition.
  const to = labels.to + MAX_FUTURE_SKEW_MS;
  for (const s of spec.groups) {
    history.set(s.group, { from: labels.from - s.group.ttlMs, to });
    if (s.windows.length === 0) continue;
    const name = s.group.source.name;
    const from = labels.from - windowReachMs(s);
    events.set(name, { from: Math.min(from, events.get(name)?.from ?? from), to });
  }
  return { history, events };
}
