import type { Classification, EventContract, FeatureGroup } from '../schemas/index.js';
import { offlineEventsPrefix, offlineGroupPrefix } from './platform-spec.js';

const RANK: readonly Classification[] = ['public', 'confidential', 'pii'];

/** Whether `level` is no more sensitive than `ceiling`. */
export const isAtMost = (level: Classification, ceiling: Classification): boolean =>
  RANK.indexOf(level) <= RANK.indexOf(ceiling);

const highest = (levels: Iterable<Classification>): Classification => {
  let top: Classification = 'public';
  for (const level of levels) if (RANK.indexOf(level) > RANK.indexOf(top)) top = level;
  return top;
};

/** The most sensitive field any of the contracts carries (what the stream holds). */
export const contractsClassification = (contracts: Iterable<EventContract>): Classification =>
  highest([...contracts].flatMap((c) => Object.values(c.classification) as Classification[]));

/** The most sensitive value any of the groups stores (what the online and offline stores hold). */
export const featureGroupsClassification = (groups: Iterable<FeatureGroup>): Classification =>
  highest([...groups].flatMap((g) => [g.entity.classification, ...g.features.map((f) => f.classification)]));

/**
 * The two customer-managed keys: `pii` encrypts whatever may hold a PII-classified value, `general`
 * everything else (confidential and public data, logs, the audit trail, alarms).
 */
export type KeyClass = 'pii' | 'general';
export const KEY_CLASSES: readonly KeyClass[] = ['pii', 'general'];

/** The key a store holding data of this classification is encrypted with. */
export const keyClassOf = (classification: Classification): KeyClass =>
  classification === 'pii' ? 'pii' : 'general';

/** The most sensitive classification each store may hold, derived from the contracts and groups. */
export interface StoreClassifications {
  /** Raw events as producers wrote them. */
  readonly stream: Classification;
  /** Latest values and window tiles of every group. */
  readonly onlineTable: Classification;
  /** Bucket default (feature history and raw event history); a group's objects may use its own class. */
  readonly offlineBucket: Classification;
  /** Quarantined, late and failed records keep their raw payloads. */
  readonly sideOutputBucket: Classification;
  /**
   * Each offline dataset, by key prefix: a group's feature history (`features/group=<g>/`) holds what
   * the group stores, a contract's raw events (`events/contract=<c>/`) what the contract carries.
   */
  readonly offlineDatasets: Readonly<Record<string, Classification>>;
}

export function storeClassifications(
  contracts: Iterable<EventContract>,
  groups: readonly FeatureGroup[],
): StoreClassifications {
  const contractList = [...contracts]; // an iterator may be read only once
  const raw = contractsClassification(contractList);
  const stored = featureGroupsClassification(groups);
  const offlineDatasets = Object.fromEntries([
    ...groups.map((g) => [offlineGroupPrefix(g.name), featureGroupsClassification([g])] as const),
    ...contractList.map((c) => [offlineEventsPrefix(c.name), contractsClassification([c])] as const),
  ]);
  return {
    stream: raw,
    onlineTable: stored,
    offlineBucket: highest([raw, stored]),
    sideOutputBucket: raw,
    offlineDatasets,
  };
}

/**
 * The offline datasets whose objects are written under another key than the offline bucket's
 * default, by key prefix: a dataset holding no PII in a bucket that may hold some is written under
 * the general key (SSE-KMS per object), so that a role cleared for it alone can read it (the data
 * scientists' `DecryptOfflineHistory`). Every other object takes the bucket's default key.
 */
export function offlineObjectKeyClasses(stores: StoreClassifications): Readonly<Record<string, KeyClass>> {
  const bucket = keyClassOf(stores.offlineBucket);
  return Object.fromEntries(
    Object.entries(stores.offlineDatasets)
      .map(([prefix, classification]) => [prefix, keyClassOf(classification)] as const)
      .filter(([, keyClass]) => keyClass !== bucket),
  );
}
