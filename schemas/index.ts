import { DefinitionError, type EventContract } from './contract.js';
import { customer } from './customer.features.js';
import type { FeatureGroup } from './feature-group.js';
import { merchant } from './merchant.features.js';
import { transaction } from './transaction.contract.js';

export type { Classification, EventContract, FieldType } from './contract.js';
export type {
  Aggregation,
  FeatureGroup,
  OfflineColumn,
  ResolvedFeature,
  WindowName,
} from './feature-group.js';
export {
  columnName,
  DEFAULT_MAX_DISTINCT,
  eventColumns,
  latestFeatures,
  offlineColumns,
  WINDOWS,
  windowFeatures,
} from './feature-group.js';

/** Every contract the platform accepts, by name. */
export const contracts: ReadonlyMap<string, EventContract> = new Map([[transaction.name, transaction]]);

/** Every feature group, in a stable order. */
export const featureGroups: readonly FeatureGroup[] = [customer, merchant];

export const featureGroupsByName: ReadonlyMap<string, FeatureGroup> = new Map(
  featureGroups.map((g) => [g.name, g]),
);

/** The groups fed by a contract. */
export const groupsFedBy = (contractName: string): FeatureGroup[] =>
  featureGroups.filter((g) => g.source.name === contractName);

/**
 * Groups whose entity is not their contract's partition key (e.g. merchant, fed by a stream keyed by
 * customer): exactly-once for them relies on each shard's records in order, i.e. ParallelizationFactor 1.
 */
export const groupsNeedingShardOrder = (groups: readonly FeatureGroup[] = featureGroups): string[] =>
  groups.filter((g) => g.entity.field !== g.source.partitionKeyField).map((g) => g.name);

/**
 * What the processor's exactly-once argument needs of the definitions (lambdas/core/process-batch.ts):
 * every contract that feeds a group feeds one keyed by its partition key, its *authority*, which
 * decides duplicates and lateness for the event. It may feed any number of others (e.g. merchant):
 * until 2026-11-27 at most one, as a redrive copy of a record parked for two that one applied and
 * the other failed on, given up with its batch, was applied again by the first at the next redrive;
 * such a copy now narrows its entry to the groups it has not reached as it fails.
 */
export function checkContractGroups(
  contractList: Iterable<EventContract>,
  groups: readonly FeatureGroup[],
): void {
  for (const contract of contractList) {
    const fed = groups.filter((g) => g.source.name === contract.name);
    if (fed.length > 0 && !fed.some((g) => g.entity.field === contract.partitionKeyField))
      throw new DefinitionError(
        `contract ${contract.name}: no feature group is keyed by its partition key field "${contract.partitionKeyField}"`,
      );
  }
}
checkContractGroups(contracts.values(), featureGroups);
