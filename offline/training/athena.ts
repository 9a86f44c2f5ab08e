/** The training-set request rendered as Athena SQL over the Glue tables (`--engine athena`). */
import { DuckDbSession } from '../duckdb.js';
import { loadLabelFile, prepareLabels } from './local-sources.js';
import { readRanges, resolveTrainingSet, type TrainingSetRequest } from './spec.js';
import { athenaSources, trainingSetSql } from './training-set-sql.js';

export interface AthenaRequest {
  /** The label rows as a local file: their columns name the output, their times prune the partitions. */
  readonly labelsPath: string;
  readonly request: TrainingSetRequest;
  /** Glue database, `fp_<env>`. */
  readonly database: string;
  /** The same label rows as an Athena table (`table` in `database`, or `db.table`). */
  readonly labelsTable: string;
}

export async function athenaTrainingSetSql(r: AthenaRequest): Promise<string> {
  const session = await DuckDbSession.open({ threads: 1 });
  try {
    const spec = resolveTrainingSet(r.request, await loadLabelFile(session, r.labelsPath));
    const span = await prepareLabels(session, spec.timeColumn);
    const ranges = 'from' in span ? readRanges(spec, span) : undefined;
    const sources = athenaSources(spec, {
      database: r.database,
      labelsTable: r.labelsTable,
      ...(ranges ? { ranges } : {}),
    });
    return `${trainingSetSql(spec, 'athena', sources)};\n`;
  } finally {
    session.close();
  }
}
