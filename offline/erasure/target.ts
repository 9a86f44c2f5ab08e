/**
 * What erasing an entity touches, derived from the definitions: the online items of every group
 * keyed by that entity, the feature history of those groups, the raw events of the contracts that
 * feed them (rows whose entity field holds the id), and the side outputs of records keyed by it.
 *
 * Where else an entity id could sit, and why it does not today (checked by `tileHolders`): a group
 * keyed by another entity keeps, in its window tiles, the distinct values of a `distinct`
 * aggregate; if such a feature counted distinct customer ids, every merchant item would hold them.
 * No group declares one (merchant has none; customer's `merchant_distinct` holds merchant ids),
 * so merchant items hold no customer id; erasure refuses to run if a definition ever adds one,
 * rather than leave ids behind.
 */
import { createHash } from 'node:crypto';
import {
  columnName,
  type EventContract,
  type FeatureGroup,
  featureGroups,
  windowFeatures,
} from '../../schemas/index.js';
import { ErasureError } from '../errors.js';
import { eventsDataset, historyDataset, type OfflineDataset } from '../layout.js';

export interface ErasureTarget {
  /** The entity name, `customer_id`. */
  readonly entity: string;
  readonly id: string;
  /** Groups keyed by the entity: their online items and feature history. */
  readonly groups: readonly FeatureGroup[];
  /** Datasets and the column that holds the entity id in each. */
  readonly datasets: readonly { readonly dataset: OfflineDataset; readonly column: string }[];
  /** Contracts whose records are keyed (Kinesis partition key) by the entity's field. */
  readonly keyedContracts: readonly EventContract[];
  /** Other groups fed by the same events (their history rows derive from the entity's events). */
  readonly derivedGroups: readonly FeatureGroup[];
}

/** Groups whose window tiles would keep values of `field` of `contract` (distinct aggregates). */
export const tileHolders = (contract: EventContract, field: string, groups = featureGroups): FeatureGroup[] =>
  groups.filter(
    (g) =>
      g.source.name === contract.name &&
      g.entity.field !== field &&
      windowFeatures(g).some((f) => f.fn === 'distinct' && f.field === field),
  );

/** `customer:<id>` (a group name) or `customer_id:<id>` (an entity name). */
export function resolveErasureTarget(
  spec: string,
  groups: readonly FeatureGroup[] = featureGroups,
): ErasureTarget {
  const m = /^([a-z][a-z0-9_]*):(.+)$/.exec(spec);
  if (!m) throw new ErasureError(`--entity takes <group or entity>:<id>, not "${spec}"`);
  const [, kind, id] = m as unknown as [string, string, string];
  const named = groups.find((g) => g.name === kind || g.entity.name === kind);
  if (!named) throw new ErasureError(`no feature group or entity named "${kind}"`);
  const entity = named.entity.name;
  if (!named.entity.idSchema.safeParse(id).success)
    throw new ErasureError(
      `"${kind}" ids do not look like the one given (it fails the contract's ${entity} rule)`,
    );
  const keyed = groups.filter((g) => g.entity.name === entity);
  const contracts = [...new Map(keyed.map((g) => [g.source.name, g.source])).values()];
  const fieldOf = (c: EventContract) => keyed.find((g) => g.source === c)?.entity.field as string;
  for (const c of contracts) {
    const holders = tileHolders(c, fieldOf(c), groups);
    if (holders.length > 0) {
      throw new ErasureError(
        `groups ${holders.map((g) => g.name).join(', ')} keep distinct ${fieldOf(c)} values in their tiles; ` +
          'erasing from them needs a scan of their items, which this job does not do yet',
      );
    }
  }
  return {
    entity,
    id,
    groups: keyed,
    datasets: [
      ...keyed.map((g) => ({ dataset: historyDataset(g), column: g.entity.name })),
      ...contracts.map((c) => ({ dataset: eventsDataset(c), column: columnName(fieldOf(c)) })),
    ],
    keyedContracts: contracts.filter((c) => c.partitionKeyField === fieldOf(c)),
    derivedGroups: groups.filter((g) => !keyed.includes(g) && contracts.includes(g.source)),
  };
}

/** What the audit record keeps instead of the id: SHA-256 of `<entity>:<id>`, to answer "was X erased?". */
export const idFingerprint = (t: Pick<ErasureTarget, 'entity' | 'id'>): string =>
  createHash('sha256').update(`${t.entity}:${t.id}`).digest('hex');
