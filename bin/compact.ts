/**
 * `npm run compact`: merges each old-enough offline partition's small objects into ~128 MiB ones.
 *
 *   npm run compact -- --endpoints .local/endpoints.json            every dataset
 *   npm run compact -- --bucket <offline bucket> --dataset features/customer --min-age-days 2
 *   npm run compact -- --endpoints .local/endpoints.json --report   object counts and sizes only
 *
 * options: --target-mb N (default 128); --min-age-days N (default 2): only partitions whose UTC day
 * ended at least N days ago (today's partition is never compacted: it is still being written).
 * One JSON line per partition.
 */
import { parseArgs } from 'node:util';
import { required, targetFrom } from '../offline/cli-support.js';
import { compactDataset, partitionHealth, TARGET_OBJECT_BYTES } from '../offline/compaction/compact.js';
import { allDatasets, datasetName } from '../offline/layout.js';
import { S3ObjectStore } from '../offline/storage/s3-object-store.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const USAGE =
  'usage: npm run compact -- (--endpoints .local/endpoints.json | --bucket <offline bucket> [--region <r>]) ' +
  '[--dataset all|features/<group>|events/<contract>] [--target-mb 128] [--min-age-days 2] [--report]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      endpoints: { type: 'string' },
      bucket: { type: 'string' },
      region: { type: 'string' },
      dataset: { type: 'string', default: 'all' },
      'target-mb': { type: 'string', default: String(TARGET_OBJECT_BYTES / 1024 / 1024) },
      'min-age-days': { type: 'string', default: '2' },
      report: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const target = targetFrom({ endpoints: values.endpoints, region: values.region });
  const store = new S3ObjectStore({
    bucket: required(values.bucket ?? target.offlineBucket, 'bucket (or --endpoints)'),
    clientConfig: target.s3,
  });
  const datasets = allDatasets().filter((d) => values.dataset === 'all' || datasetName(d) === values.dataset);
  if (datasets.length === 0) throw new Error(`unknown dataset ${values.dataset}`);
  const targetBytes = Number(values['target-mb']) * 1024 * 1024;
  const minAgeDays = Number(values['min-age-days']);
  if (!(targetBytes > 0) || !(minAgeDays >= 0))
    throw new Error('--target-mb must be > 0 and --min-age-days >= 0');
  for (const d of datasets) {
    const rows = values.report
      ? await partitionHealth(store, d, targetBytes)
      : await compactDataset(store, d, { targetBytes, minAgeDays });
    for (const row of rows) console.log(JSON.stringify(row));
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(`compact: ${error.message}\n${USAGE}`);
    process.exitCode = 2;
  },
);
