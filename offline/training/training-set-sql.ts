/**
 * The training-set query for a resolved spec, in DuckDB's dialect (ASOF JOIN) or Athena's (window
 * functions: Athena has no ASOF JOIN). Both read the same relations: labels with `__label_row` and
 * `__label_time` (UTC, no zone), each group's feature history, each contract's raw events; both
 * return the label columns, then one column per requested feature, in label order.
 */
import { columnName, type FeatureGroup } from '../../schemas/index.js';
import { asofLatest, historyCte, latestCte, rankedLatest } from './latest-sql.js';
import type { GroupSelection, ReadRange, SelectedFeature, TrainingSetSpec } from './spec.js';
import { type Dialect, ident, str } from './sql-text.js';
import { dedupedEvents, lastCte, windowCte, windowCtes, ZERO_WHEN_EMPTY } from './window-sql.js';

/** Relations (table names or parenthesised queries) the query reads. */
export interface SqlSources {
  /** The label columns plus `__label_row` (unique, the output order) and `__label_time` (timestamp, UTC). */
  readonly labels: string;
  /** A group's feature history: its offline columns, timestamps as timestamp (UTC). */
  history(group: FeatureGroup): string;
  /** A contract's raw events: event_id, event_time, ingestion_time and its field columns. */
  events(contract: string): string;
}

function featureExpression(s: GroupSelection, f: SelectedFeature): string {
  const lv = `lv_${s.group.name}`;
  const out = ident(f.column);
  if (f.feature.kind === 'latest') return `${lv}.${ident(f.feature.name)} AS ${out}`;
  const value =
    f.feature.fn === 'last'
      ? `${lastCte(s, f)}.__value`
      : ZERO_WHEN_EMPTY.has(f.feature.fn as string)
        ? `coalesce(wv_${s.group.name}.${ident(f.feature.name)}, 0)`
        : `wv_${s.group.name}.${ident(f.feature.name)}`;
  return `CASE WHEN ${lv}.__event_time IS NULL THEN NULL ELSE ${value} END AS ${out}`;
}

export function trainingSetSql(spec: TrainingSetSpec, dialect: Dialect, sources: SqlSources): string {
  const ctes: string[] = [`__labels AS (SELECT * FROM ${sources.labels})`];
  for (const s of spec.groups) {
    ctes.push(`${historyCte(s)} AS (SELECT * FROM ${sources.history(s.group)})`);
    ctes.push(dialect === 'duckdb' ? asofLatest(s) : rankedLatest(s));
  }
  const contractsWithWindows = [
    ...new Set(spec.groups.filter((s) => s.windows.length > 0).map((s) => s.group.source.name)),
  ];
  for (const c of contractsWithWindows) ctes.push(dedupedEvents(c, sources.events(c)));
  for (const s of spec.groups) ctes.push(...windowCtes(s, spec.windows));

  const joins: string[] = [];
  for (const s of spec.groups) {
    const g = s.group.name;
    joins.push(`LEFT JOIN ${latestCte(s)} lv_${g} ON lv_${g}.__label_row = l.__label_row`);
    if (s.windows.some((f) => f.feature.fn !== 'last'))
      joins.push(`LEFT JOIN ${windowCte(s)} wv_${g} ON wv_${g}.__label_row = l.__label_row`);
    for (const f of s.windows.filter((w) => w.feature.fn === 'last'))
      joins.push(`LEFT JOIN ${lastCte(s, f)} ON ${lastCte(s, f)}.__label_row = l.__label_row`);
  }
  const columns = [
    ...spec.labelColumns.map((c) => `l.${ident(c)}`),
    ...spec.features.map((f) =>
      featureExpression(spec.groups.find((s) => s.group === f.group) as GroupSelection, f),
    ),
  ];
  return [
    `WITH ${ctes.join(',\n')}`,
    `SELECT ${columns.join(',\n  ')}`,
    'FROM __labels l',
    ...joins,
    'ORDER BY l.__label_row',
  ].join('\n');
}

/** Where the query reads from in AWS: the Glue database, the labels table, the partitions to scan. */
export interface AthenaTarget {
  /** Glue database, `fp_<env>`. */
  readonly database: string;
  /** A table (in `database` unless qualified as `db.table`) holding the label rows. */
  readonly labelsTable: string;
  /** Glue table of a contract's raw events. @default `events_<contract>` */
  readonly eventsTable?: (contract: string) => string;
  /** Partitions (`dt`) to scan, per feature group and per contract; all when absent. */
  readonly ranges?: {
    readonly history: ReadonlyMap<FeatureGroup, ReadRange>;
    readonly events: ReadonlyMap<string, ReadRange>;
  };
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dtFilter = (range: ReadRange | undefined) =>
  range ? ` WHERE dt BETWEEN ${str(day(range.from))} AND ${str(day(range.to))}` : '';
const table = (database: string, name: string) =>
  name.includes('.')
    ? name
        .split('.')
        .map((p) => ident(p))
        .join('.')
    : `${ident(database)}.${ident(name)}`;

/** The relations of an Athena query: the Glue tables `fp_<env>.<group>`, with partition pruning on `dt`. */
export function athenaSources(spec: TrainingSetSpec, target: AthenaTarget): SqlSources {
  const eventsTable = target.eventsTable ?? ((c: string) => `events_${c}`);
  return {
    labels:
      `(SELECT t.*, row_number() OVER () AS __label_row, ` +
      `CAST(t.${ident(spec.timeColumn)} AS timestamp) AS __label_time FROM ${table(target.database, target.labelsTable)} t)`,
    history: (group) => {
      const s = spec.groups.find((g) => g.group === group);
      const cols = [
        group.entity.name,
        'event_time',
        'event_id',
        'ingestion_time',
        ...(s?.latest.map((f) => f.feature.name) ?? []),
      ];
      return `(SELECT ${cols.map(ident).join(', ')} FROM ${table(target.database, group.name)}${dtFilter(
        target.ranges?.history.get(group),
      )})`;
    },
    events: (contract) => {
      const fields = new Set<string>();
      for (const s of spec.groups.filter((g) => g.group.source.name === contract)) {
        if (s.windows.length === 0) continue;
        fields.add(columnName(s.group.entity.field));
        for (const f of s.windows) if (f.feature.fn !== 'count') fields.add(columnName(f.feature.field));
      }
      const cols = ['event_id', 'event_time', 'ingestion_time', ...fields];
      return `(SELECT ${cols.map(ident).join(', ')} FROM ${table(target.database, eventsTable(contract))}${dtFilter(
        target.ranges?.events.get(contract),
      )})`;
    },
  };
}
