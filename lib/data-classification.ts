import type { Classification, EventContract, FeatureGroup } from '../schemas/index.js';

const RANK: readonly Classification[] = ['public', 'confidential', 'pii'];

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
