/**
 * `npm run redrive`: the records the event source mapping gave up on, and those the processor
 * parked, go back into the stream once their cause is fixed, and the offline objects it parked go
 * into the offline bucket (see offline/redrive/redrive.ts for why
 * that is exactly once).
 *
 *   npm run redrive -- --endpoints .local/endpoints.json [--dry-run]
 *   npm run redrive -- --side-output-bucket <b> --stream <s> [--offline-bucket <b>] [--region me-central-1] \
 *     [--pii-kms-key-id <key>] [--dry-run]
 *
 * Break-glass, for records the mapping gave up and could not write to the on-failure bucket
 * (`StreamSource/LostRecordsAlarm`, docs/operations.md): every record that arrived in a window goes
 * back into the stream, each decided as a producer retry (offline/redrive/from-stream.ts):
 *
 *   npm run redrive -- --from-stream --since <ISO time> --until <ISO time> [--shard <id> ...] \
 *     (--endpoints .local/endpoints.json | --stream <s> [--region me-central-1]) [--dry-run]
 *
 * That needs kinesis:ListShards, GetShardIterator and GetRecords on the stream and kms:Decrypt of
 * its key (the PII key) as well: the data-steward role has them.
 *
 * Needs: s3:ListBucket, s3:GetObject and s3:DeleteObject on `aws/lambda/`, `parked/` and
 * `parked-rows/` of the side-output bucket, kms:Decrypt of its key through S3, s3:PutObject on
 * `features/` and `events/` of the offline bucket (parked offline objects, put in place under their
 * own KMS key: kms:GenerateDataKey through S3), kms:Decrypt of the PII key (parked payloads
 * are sealed: `--pii-kms-key-id`, or PII_SEAL_KEY locally), and kinesis:PutRecords on the stream: the
 * data-steward role (lib/access-roles.ts). Prints the report as JSON; exit 1 if an object was kept
 * (run again once Kinesis takes its records, or with the PII key) or could not be read.
 */
import { parseArgs } from 'node:util';
import { FeatureEventProducer } from '../clients/feature-event-producer.js';
import { required, sealerFrom, type Target, targetFrom } from '../offline/cli-support.js';
import { OfflineError } from '../offline/errors.js';
import { type FromStreamReport, redriveFromStream } from '../offline/redrive/from-stream.js';
import { KinesisStreamReader } from '../offline/redrive/kinesis-stream-reader.js';
import { redrive } from '../offline/redrive/redrive.js';
import { S3ObjectStore } from '../offline/storage/s3-object-store.js';
import { contracts } from '../schemas/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const USAGE =
  'usage: npm run redrive -- (--endpoints .local/endpoints.json | --side-output-bucket <b> --stream <s> [--region <r>]) ' +
  '[--offline-bucket <b>] [--pii-kms-key-id <key>] [--dry-run]\n' +
  '       npm run redrive -- --from-stream --since <ISO time> --until <ISO time> [--shard <id> ...] ' +
  '(--endpoints .local/endpoints.json | --stream <s> [--region <r>]) [--dry-run]';

/** A flag's ISO 8601 time, or a usage error naming it. */
function timeFlag(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new OfflineError(`--${flag} must be an ISO 8601 time, not "${value}"`);
  return at;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      endpoints: { type: 'string' },
      region: { type: 'string' },
      'side-output-bucket': { type: 'string' },
      'offline-bucket': { type: 'string' },
      stream: { type: 'string' },
      'pii-kms-key-id': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'from-stream': { type: 'boolean', default: false },
      since: { type: 'string' },
      until: { type: 'string' },
      shard: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const target = targetFrom({ endpoints: values.endpoints, region: values.region });
  const streamName = required(values.stream ?? target.streamName, 'stream');
  if (values['from-stream']) return fromStream(values, target, streamName);
  if (values.since || values.until || values.shard)
    throw new OfflineError('--since, --until and --shard go with --from-stream');
  const sealer = sealerFrom({ keyId: values['pii-kms-key-id'], region: values.region });
  const offlineBucket = values['offline-bucket'] ?? target.offlineBucket;
  const producer = rawProducer(streamName, target);
  try {
    const report = await redrive(
      {
        store: new S3ObjectStore({
          bucket: required(values['side-output-bucket'] ?? target.sideOutputBucket, 'side-output-bucket'),
          clientConfig: target.s3,
        }),
        ...(offlineBucket
          ? { offline: new S3ObjectStore({ bucket: offlineBucket, clientConfig: target.s3 }) }
          : {}),
        send: (records) => producer.sendRaw(records),
        ...(sealer ? { unseal: (s) => sealer.unseal(s) } : {}),
      },
      { dryRun: values['dry-run'] },
    );
    console.error(
      `${report.dryRun ? 'would redrive' : 'redrove'} ${report.dryRun ? report.records : report.sent} of ` +
        `${report.records} given-up records from ${report.objects} objects; ${report.objectsDeleted} deleted, ` +
        `${report.kept.length} kept, ${report.unreadable.length} unreadable; ${report.parked.sent} of ` +
        `${report.parked.entries} parked records sent for the processor to complete; ${report.parkedRows.restored} of ` +
        `${report.parkedRows.objects} parked offline objects put in place`,
    );
    console.log(JSON.stringify(report));
    return report.kept.length + report.unreadable.length > 0 ? 1 : 0;
  } finally {
    producer.destroy();
  }
}

/** `--from-stream`: a window of the stream back into it (offline/redrive/from-stream.ts). */
async function fromStream(
  values: { since?: string; until?: string; shard?: string[]; endpoints?: string; 'dry-run'?: boolean },
  target: Target,
  streamName: string,
): Promise<number> {
  const producer = rawProducer(streamName, target);
  try {
    const report = await redriveFromStream(
      {
        reader: new KinesisStreamReader({
          streamName,
          clientConfig: target.kinesis,
          // The stand-ins' kinesalite never answers AT_TIMESTAMP past a shard's last record.
          fromTrimHorizon: values.endpoints !== undefined,
        }),
        send: (records) => producer.sendRaw(records),
      },
      {
        since: required(timeFlag(values.since, 'since'), 'since'),
        // Required: a day of the stream is a day of copies, each a decision and an S3 object.
        until: required(timeFlag(values.until, 'until'), 'until'),
        ...(values.shard ? { shards: values.shard } : {}),
        dryRun: values['dry-run'] ?? false,
      },
    );
    console.error(describeFromStream(report));
    console.log(JSON.stringify(report));
    return report.shards.some((s) => s.firstUnsent) ? 1 : 0;
  } finally {
    producer.destroy();
  }
}

/** A producer of records as they were sent (only sendRaw is used), in order per partition key. */
const rawProducer = (streamName: string, target: Target) =>
  new FeatureEventProducer({
    contract: [...contracts.values()][0] as NonNullable<ReturnType<typeof contracts.get>>,
    streamName,
    clientConfig: target.kinesis,
    ordering: 'strict',
  });

function describeFromStream(r: FromStreamReport): string {
  const unsent = r.shards.filter((s) => s.firstUnsent);
  return (
    `${r.dryRun ? 'would send back' : 'sent back'} ${r.dryRun ? r.records : r.sent} of ${r.records} records that ` +
    `arrived from ${r.since} to ${r.until}, in ${r.shards.length} shards` +
    unsent
      .map((s) => `; ${s.shardId} stopped at ${s.firstUnsent?.sequenceNumber} (${s.firstUnsent?.reason})`)
      .join('')
  );
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(`redrive: ${error.message}\n${USAGE}`);
    process.exitCode = 2;
  },
);
