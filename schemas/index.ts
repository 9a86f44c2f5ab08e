import type { EventContract } from './contract.js';
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
export { latestFeatures, offlineColumns, WINDOWS, windowFeatures } from './feature-group.js';

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
