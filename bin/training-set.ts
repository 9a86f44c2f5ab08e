/**
 * `npm run training-set`: a point-in-time-correct training set from the offline store.
 *
 *   npm run training-set -- --labels labels.csv --features customer:last_amount_minor,merchant:txn_count_24h \
 *     --out train.parquet [--endpoints .local/endpoints.json | --bucket <offline bucket> [--region r]]
 *   npm run training-set -- --engine athena --labels labels.csv --labels-table fraud_labels --env dev \
 *     --features ...            prints the same request as Athena SQL over the Glue tables fp_<env>.*
 *
 * options: --time-column label_time, --entity-column customer_id=<label column> (repeatable),
 * --windows tile|exact (tile: equal to the online store; exact: to the millisecond), --threads N.
 * The last stdout line of a local run is a JSON summary.
 */
import { parseArgs } from 'node:util';
import { pairs, required, targetFrom } from '../offline/cli-support.js';
import { S3ObjectStore } from '../offline/storage/s3-object-store.js';
import { athenaTrainingSetSql } from '../offline/training/athena.js';
import { buildTrainingSet } from '../offline/training/run.js';
import type { TrainingSetRequest, WindowSemantics } from '../offline/training/spec.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const USAGE =
  'usage: npm run training-set -- --labels <csv|parquet> --features <group:feature,...> --out <file.parquet>\n' +
  '         [--endpoints .local/endpoints.json | --bucket <offline bucket> [--region <region>]]\n' +
  '         [--time-column label_time] [--entity-column <entity>=<label column>] [--windows tile|exact]\n' +
  '       npm run training-set -- --engine athena --labels <file> --labels-table <table> (--env <env> | --database <db>) --features ...';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      labels: { type: 'string' },
      features: { type: 'string' },
      out: { type: 'string' },
      endpoints: { type: 'string' },
      bucket: { type: 'string' },
      region: { type: 'string' },
      engine: { type: 'string', default: 'duckdb' },
      env: { type: 'string' },
      database: { type: 'string' },
      'labels-table': { type: 'string' },
      'time-column': { type: 'string', default: 'label_time' },
      'entity-column': { type: 'string', multiple: true },
      windows: { type: 'string', default: 'tile' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const request: TrainingSetRequest = {
    features: required(values.features, 'features')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean),
    timeColumn: values['time-column'],
    entityColumns: pairs(values['entity-column'], 'entity-column'),
    windows: values.windows as WindowSemantics,
  };
  const labelsPath = required(values.labels, 'labels');
  if (values.engine === 'athena') {
    const database = values.database ?? `fp_${required(values.env, 'env (or --database)')}`;
    const sql = await athenaTrainingSetSql({
      labelsPath,
      request,
      database,
      labelsTable: required(values['labels-table'], 'labels-table'),
    });
    process.stdout.write(sql);
    return 0;
  }
  if (values.engine !== 'duckdb') throw new Error(`--engine must be duckdb or athena, not ${values.engine}`);
  const target = targetFrom({ endpoints: values.endpoints, region: values.region });
  const bucket = values.bucket ?? target.offlineBucket;
  const started = performance.now();
  const summary = await buildTrainingSet({
    labelsPath,
    request,
    outPath: required(values.out, 'out'),
    store: new S3ObjectStore({
      bucket: required(bucket, 'bucket (or --endpoints)'),
      clientConfig: target.s3,
    }),
    ...(values.threads ? { duckdb: { threads: Number(values.threads) } } : {}),
    log: (m) => console.error(m),
  });
  for (const f of summary.features)
    console.error(`  ${f.column.padEnd(40)} ${f.nonNull}/${summary.rows} rows with a value`);
  console.log(JSON.stringify({ ...summary, seconds: Math.round((performance.now() - started) / 10) / 100 }));
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(`training-set: ${error.message}\n${USAGE}`);
    process.exitCode = 2;
  },
);
