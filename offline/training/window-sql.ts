/**
 * Window aggregates as of each label's time, per group, from the contract's raw events restricted
 * to the events the group applied (those in its feature history: an event late for one group is
 * in the raw events but not in that group's windows, as online). CTEs `__wv_<group>` (count, sum,
 * mean, min, max, distinct; one row per label row with any event in reach) and
 * `__wl_<group>_<feature>` (last: the newest non-null value in the window).
 */
import { columnName, DEFAULT_MAX_DISTINCT } from '../../schemas/index.js';
import { eventIdentitySql } from '../event-identity.js';
import { historyCte } from './latest-sql.js';
import type { GroupSelection, SelectedFeature, WindowSemantics } from './spec.js';
import { ident, interval, tileFloor } from './sql-text.js';

export const eventsCte = (contract: string): string => `__ev_${contract}`;
export const windowCte = (s: GroupSelection): string => `__wv_${s.group.name}`;
export const lastCte = (s: GroupSelection, f: SelectedFeature): string =>
  `__wl_${s.group.name}_${f.feature.name}`;

/** Raw events of a contract, one row per event (its first arrival). */
export function dedupedEvents(contract: string, relation: string): string {
  return [
    `${eventsCte(contract)} AS (`,
    `  SELECT * FROM (`,
    `    SELECT e.*, row_number() OVER (PARTITION BY ${eventIdentitySql('e')} ORDER BY e.ingestion_time) AS __copy`,
    `    FROM ${relation} e) t`,
    `  WHERE __copy = 1)`,
  ].join('\n');
}

/**
 * The condition that event `e` (arrived by the label time: `reach`) is in the feature's window as of
 * `l.__label_time`. `tile`, as online: the tiles from the one holding L - window to the one holding L,
 * whole; so an event stamped after L by a producer clock ahead of its arrival (up to the contract's
 * skew) counts once it has arrived, if it falls in L's tile.
 */
function inWindow(f: SelectedFeature, semantics: WindowSemantics): string {
  const windowMs = f.feature.windowMs as number;
  const tileMs = f.feature.tileMs as number;
  const start = `l.__label_time - ${interval(windowMs)}`;
  return semantics === 'exact'
    ? `e.event_time > ${start} AND e.event_time <= l.__label_time`
    : `e.event_time >= ${tileFloor(start, tileMs)} AND e.event_time < ${tileFloor('l.__label_time', tileMs)} + ${interval(tileMs)}`;
}

function aggregate(f: SelectedFeature, semantics: WindowSemantics): string {
  const cond = inWindow(f, semantics);
  const field = `e.${ident(columnName(f.feature.field))}`;
  const when = (value: string) => `CASE WHEN ${cond} THEN ${value} END`;
  const name = ident(f.feature.name);
  switch (f.feature.fn) {
    case 'count':
      return `count(${when('1')}) AS ${name}`;
    case 'sum':
      return `CAST(sum(${when(field)}) AS ${f.feature.type === 'float64' ? 'DOUBLE' : 'BIGINT'}) AS ${name}`;
    case 'mean':
      return `avg(CAST(${when(field)} AS DOUBLE)) AS ${name}`;
    case 'min':
      return `min(${when(field)}) AS ${name}`;
    case 'max':
      return `max(${when(field)}) AS ${name}`;
    case 'distinct':
      // Saturates at the feature's cap, as online (feature-group.ts DEFAULT_MAX_DISTINCT).
      return `least(count(DISTINCT ${when(field)}), ${f.feature.maxDistinct ?? DEFAULT_MAX_DISTINCT}) AS ${name}`;
    default:
      throw new Error(`no aggregate for ${f.feature.fn}`);
  }
}

/** Events of the contract that the group applied, joined to the label rows they can reach. */
function reach(s: GroupSelection): string {
  const maxReach = Math.max(
    ...s.windows.map((f) => (f.feature.windowMs as number) + (f.feature.tileMs as number)),
  );
  const entity = ident(columnName(s.group.entity.field));
  const maxTile = Math.max(...s.windows.map((f) => f.feature.tileMs as number));
  return [
    `    FROM __labels l JOIN __eg_${s.group.name} e`,
    `      ON e.${entity} = CAST(l.${ident(s.entityColumn)} AS VARCHAR)`,
    `      AND e.ingestion_time <= l.__label_time`,
    `      AND e.event_time >= l.__label_time - ${interval(maxReach)}`,
    `      AND e.event_time < l.__label_time + ${interval(maxTile)}`,
  ].join('\n');
}

export function windowCtes(s: GroupSelection, semantics: WindowSemantics): string[] {
  if (s.windows.length === 0) return [];
  const g = s.group.name;
  const ctes = [
    [
      `__eg_${g} AS (`,
      `  SELECT e.* FROM ${eventsCte(s.group.source.name)} e`,
      `  WHERE e.event_id IN (SELECT event_id FROM ${historyCte(s)}))`,
    ].join('\n'),
  ];
  const aggregates = s.windows.filter((f) => f.feature.fn !== 'last');
  if (aggregates.length > 0) {
    ctes.push(
      [
        `${windowCte(s)} AS (`,
        `  SELECT l.__label_row, ${aggregates.map((f) => aggregate(f, semantics)).join(',\n    ')}`,
        reach(s),
        '  GROUP BY l.__label_row)',
      ].join('\n'),
    );
  }
  for (const f of s.windows.filter((w) => w.feature.fn === 'last')) {
    const field = `e.${ident(columnName(f.feature.field))}`;
    ctes.push(
      [
        `${lastCte(s, f)} AS (`,
        '  SELECT __label_row, __value FROM (',
        `    SELECT l.__label_row, ${field} AS __value,`,
        '      row_number() OVER (PARTITION BY l.__label_row ORDER BY e.event_time DESC, e.event_id DESC) AS __rank',
        reach(s),
        `      AND ${inWindow(f, semantics)} AND ${field} IS NOT NULL`,
        '  ) t',
        '  WHERE __rank = 1)',
      ].join('\n'),
    );
  }
  return ctes;
}

/** Zero for an empty window, as the online store answers; null (via the caller) when the entity is expired. */
export const ZERO_WHEN_EMPTY = new Set(['count', 'sum', 'distinct']);
