/**
 * Latest values as of each label's time, per group, as a CTE `__lv_<group>` with columns
 * `__label_row`, `__event_time` (of the event the values come from) and the requested features;
 * no row where the entity has no visible event within the TTL.
 *
 * Two strategies, equal in result:
 * - `asof` (DuckDB): a per-entity timeline of "the newest event time visible so far", ordered by
 *   when each row became visible (its ingestion time, as online: see spec.ts), ASOF-joined on the
 *   label time. A plain ASOF on event time would pick a row that arrived after the label time; the
 *   timeline orders by arrival and keeps the newest event time. The values are then
 *   those of the visible row at that event time with the largest event id (ties, and copies of one
 *   event, which are equal: an event counts once, visible from its first arrival).
 * - `ranked` (Athena, no ASOF JOIN): dedupe by event id, join every visible row within the TTL,
 *   keep the newest per label row (row_number).
 */

import { eventIdentitySql } from '../event-identity.js';
import type { GroupSelection } from './spec.js';
import { ident, interval, str } from './sql-text.js';

export const historyCte = (s: GroupSelection): string => `__h_${s.group.name}`;
export const latestCte = (s: GroupSelection): string => `__lv_${s.group.name}`;

const entityMatch = (entityExpr: string, s: GroupSelection) =>
  `${entityExpr} = CAST(l.${ident(s.entityColumn)} AS VARCHAR)`;

export function asofLatest(s: GroupSelection): string {
  const g = s.group.name;
  const entity = ident(s.group.entity.name);
  const ttl = interval(s.group.ttlMs);
  const packed = s.latest.map((f) => `${str(f.feature.name)}: h.${ident(f.feature.name)}`);
  const values = s.latest.map((f) => `(__v).${ident(f.feature.name)} AS ${ident(f.feature.name)}`);
  return [
    // The newest event time visible so far, per entity, on the keys only (one sort of three columns).
    `__tl_${g} AS (`,
    `  SELECT __entity, __visible_at, max(event_time) AS event_time FROM (`,
    `    SELECT ${entity} AS __entity, event_time, ingestion_time AS __visible_at,`,
    `      max(event_time) OVER (PARTITION BY ${entity} ORDER BY ingestion_time`,
    `        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __newest`,
    `    FROM ${historyCte(s)}) t`,
    `  WHERE event_time = __newest`,
    `  GROUP BY __entity, __visible_at),`,
    `__la_${g} AS (`,
    `  SELECT l.__label_row, l.__label_time, tl.__entity, tl.event_time`,
    `  FROM __labels l ASOF JOIN __tl_${g} tl`,
    `    ON ${entityMatch('tl.__entity', s)} AND l.__label_time >= tl.__visible_at`,
    `  WHERE tl.event_time > l.__label_time - ${ttl}),`,
    // Among the visible rows at that event time (usually one), the largest event id; copies are equal.
    `${latestCte(s)} AS (`,
    `  SELECT __label_row, __event_time${values.map((v) => `, ${v}`).join('')} FROM (`,
    `    SELECT a.__label_row, any_value(a.event_time) AS __event_time,`,
    `      arg_max({${packed.length ? packed.join(', ') : "'none': NULL"}}, h.event_id) AS __v`,
    `    FROM __la_${g} a JOIN ${historyCte(s)} h ON h.${entity} = a.__entity AND h.event_time = a.event_time`,
    `    WHERE h.ingestion_time <= a.__label_time`,
    `    GROUP BY a.__label_row) t)`,
  ].join('\n');
}

export function rankedLatest(s: GroupSelection): string {
  const g = s.group.name;
  const entity = ident(s.group.entity.name);
  const ttl = interval(s.group.ttlMs);
  const names = s.latest.map((f) => ident(f.feature.name));
  return [
    `__hd_${g} AS (`,
    `  SELECT * FROM (`,
    `    SELECT h.*, row_number() OVER (PARTITION BY ${eventIdentitySql('h')} ORDER BY h.ingestion_time) AS __copy`,
    `    FROM ${historyCte(s)} h) t`,
    `  WHERE __copy = 1),`,
    `${latestCte(s)} AS (`,
    `  SELECT __label_row, __event_time${names.map((n) => `, ${n}`).join('')} FROM (`,
    `    SELECT l.__label_row, h.event_time AS __event_time${names.map((n) => `, h.${n}`).join('')},`,
    `      row_number() OVER (PARTITION BY l.__label_row ORDER BY h.event_time DESC, h.event_id DESC) AS __rank`,
    `    FROM __labels l JOIN __hd_${g} h`,
    `      ON ${entityMatch(`h.${entity}`, s)}`,
    `      AND h.ingestion_time <= l.__label_time`,
    `      AND h.event_time > l.__label_time - ${ttl}`,
    `  ) t`,
    `  WHERE __rank = 1)`,
  ].join('\n');
}
