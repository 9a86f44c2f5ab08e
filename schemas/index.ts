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

// Every contract that feeds a group must feed one keyed by its partition key: that group decides
// duplicates and lateness for the event (see lambdas/core/process-batch.ts).
for (const contract of contracts.values()) {
  const fed = groupsFedBy(contract.name);
  if (fed.length > 0 && !fed.some((g) => g.entity.field === contract.partitionKeyField)) {
    throw new DefinitionError(
      `contract ${contract.name}: no feature group is keyed by its partition key field "${contract.partitionKeyField}"`,
    );
  }
}
