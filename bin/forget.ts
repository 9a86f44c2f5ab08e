/**
 * `npm run forget`: right to erasure for one entity, in every store, with an audit record.
 *
 *   npm run forget -- --entity customer:cus_0001 --by "DPO ticket 4711" --endpoints .local/endpoints.json
 *   npm run forget -- --entity customer:cus_0001 --by ... --offline-bucket b --side-output-bucket b \
 *     --table fp-prod-online [--region me-central-1] [--pii-kms-key-id <key>]
 *
 * options: --derived keep|drop (other groups' rows computed from the entity's events; default keep),
 * --request-id <id>. PII_SEAL_KEY (local) or --pii-kms-key-id (AWS) lets it look inside sealed
 * side-output payloads. Prints the report (the audit record) as JSON; exit 1 if something that
 * shows the id was left behind.
 */
import { parseArgs } from 'node:util';
import { required, sealerFrom, targetFrom } from '../offline/cli-support.js';
import { forget } from '../offline/erasure/forget.js';
import { DynamoDbOnlineEraser } from '../offline/erasure/online.js';
import { S3ObjectStore } from '../offline/storage/s3-object-store.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const USAGE =
  'usage: npm run forget -- --entity <group>:<id> --by <who asked> ' +
  '(--endpoints .local/endpoints.json | --offline-bucket <b> --side-output-bucket <b> --table <t> [--region <r>]) ' +
  '[--derived keep|drop] [--request-id <id>] [--pii-kms-key-id <key>]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      entity: { type: 'string' },
      by: { type: 'string' },
      endpoints: { type: 'string' },
      region: { type: 'string' },
      'offline-bucket': { type: 'string' },
      'side-output-bucket': { type: 'string' },
      table: { type: 'string' },
      derived: { type: 'string', default: 'keep' },
      'request-id': { type: 'string' },
      'pii-kms-key-id': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.derived !== 'keep' && values.derived !== 'drop')
    throw new Error('--derived must be keep or drop');
  const target = targetFrom({ endpoints: values.endpoints, region: values.region });
  const table = required(values.table ?? target.onlineTable, 'table');
  const keyId = values['pii-kms-key-id'];
  const sealer = sealerFrom({ keyId, region: values.region });
  const report = await forget(
    {
      entity: required(values.entity, 'entity'),
      requestedBy: required(values.by, 'by'),
      derived: values.derived,
      ...(values['request-id'] ? { requestId: values['request-id'] } : {}),
    },
    {
      offline: new S3ObjectStore({
        bucket: required(values['offline-bucket'] ?? target.offlineBucket, 'offline-bucket'),
        clientConfig: target.s3,
      }),
      sideOutputs: new S3ObjectStore({
        bucket: required(values['side-output-bucket'] ?? target.sideOutputBucket, 'side-output-bucket'),
        clientConfig: target.s3,
      }),
      online: new DynamoDbOnlineEraser({ tableName: table, clientConfig: target.dynamodb }),
      onlineTable: table,
      ...(sealer ? { unseal: (s) => sealer.unseal(s) } : {}),
    },
  );
  const removed = report.offline.reduce((n, o) => n + o.rowsRemoved, 0);
  console.error(
    `forgot ${report.entity.name} ${report.entity.sha256.slice(0, 12)}...: ` +
      `${report.online.filter((o) => o.itemDeleted).length} online items ` +
      `(and ${report.online.reduce((n, o) => n + o.idBucketsDeleted, 0)} id buckets), ${removed} offline rows, ` +
      `${report.sideOutputs.entriesDeleted + report.sideOutputs.recordsRemoved} side-output records; audit ${report.auditKey}`,
  );
  console.log(JSON.stringify(report));
  return report.sideOutputs.unhandled.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(`forget: ${error.message}\n${USAGE}`);
    process.exitCode = 2;
  },
);
