/**
 * Where the offline datasets live in the offline bucket, and their columns:
 * - feature history: `features/group=<group>/dt=<yyyy-mm-dd>/<batch>.parquet`, `offlineColumns(group)`;
 * - raw validated events: `events/contract=<contract>/dt=<yyyy-mm-dd>/<batch>.parquet`, `eventColumns(contract)`.
 * `dt` is the UTC date of the event time. Rows may repeat across objects (a batch redelivered with
 * other boundaries); readers dedupe by `event_id`.
 */
import {
  OFFLINE_EVENTS_PREFIX,
  OFFLINE_FEATURES_PREFIX,
  offlineEventsPrefix,
  offlineGroupPrefix,
} from '../lib/platform-spec.js';
import {
  contracts,
  type EventContract,
  eventColumns,
  type FeatureGroup,
  featureGroups,
  type OfflineColumn,
  offlineColumns,
} from '../schemas/index.js';

export { OFFLINE_EVENTS_PREFIX, offlineEventsPrefix };

/** One offline dataset: a group's feature history or a contract's raw events. */
export type OfflineDataset =
  | { readonly kind: 'features'; readonly group: FeatureGroup }
  | { readonly kind: 'events'; readonly contract: EventContract };

export const historyDataset = (group: FeatureGroup): OfflineDataset => ({ kind: 'features', group });
export const eventsDataset = (contract: EventContract): OfflineDataset => ({ kind: 'events', contract });

/** Every dataset the definitions declare, feature histories first. */
export const allDatasets = (): OfflineDataset[] => [
  ...featureGroups.map(historyDataset),
  ...[...contracts.values()].map(eventsDataset),
];

export const datasetName = (d: OfflineDataset): string =>
  d.kind === 'features' ? `features/${d.group.name}` : `events/${d.contract.name}`;

export const datasetPrefix = (d: OfflineDataset): string =>
  d.kind === 'features' ? offlineGroupPrefix(d.group.name) : offlineEventsPrefix(d.contract.name);

export const datasetColumns = (d: OfflineDataset): OfflineColumn[] =>
  d.kind === 'features' ? offlineColumns(d.group) : eventColumns(d.contract);

export const partitionPrefix = (d: OfflineDataset, dt: string): string => `${datasetPrefix(d)}dt=${dt}/`;

const DAY_MS = 86_400_000;
const DT = /^\d{4}-\d{2}-\d{2}$/;

/** UTC date (yyyy-mm-dd) of an epoch-ms time. */
export const utcDay = (epochMs: number): string => new Date(epochMs).toISOString().slice(0, 10);

/** Every UTC date from the one holding `fromMs` to the one holding `toMs`, inclusive. */
export function utcDatesBetween(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let t = Math.floor(fromMs / DAY_MS) * DAY_MS; t <= toMs; t += DAY_MS) out.push(utcDay(t));
  return out;
}

/** The dataset prefix and `dt` of an object key under one of the offline prefixes, if it is one. */
export function parsePartitionKey(key: string): { prefix: string; dt: string } | undefined {
  const m = /^((?:features\/group|events\/contract)=[^/]+\/)dt=([^/]+)\/[^/]+$/.exec(key);
  if (!m || !DT.test(m[2] as string)) return undefined;
  return { prefix: m[1] as string, dt: m[2] as string };
}

/** True for keys of either offline dataset. */
export const isOfflineDataKey = (key: string): boolean =>
  key.startsWith(OFFLINE_FEATURES_PREFIX) || key.startsWith(OFFLINE_EVENTS_PREFIX);
