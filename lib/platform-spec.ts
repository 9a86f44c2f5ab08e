/**
 * The platform's resources as plain data, with no CDK import: the CDK stacks and the local
 * platform both provision from this one description, so local and deployed cannot drift.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ItemLayout } from '../lambdas/adapters/entity-item-codec.js';
import type { KeyClass } from './data-classification.js';

/** Repository root (this file lives in lib/). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** cdk.json's context (the environments, the feature flags), as `cdk synth` reads it, for tools run without the CDK CLI. */
export const cdkJsonContext = (): Record<string, unknown> =>
  (JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> })
    .context;

/**
 * The Lambda handlers, as files relative to the repository root. The CDK app bundles exactly
 * these files (NodejsFunction `entry`) and the local platform imports exactly these files.
 */
export const HANDLER_ENTRIES = {
  processor: 'lambdas/processor/handler.ts',
  lookup: 'lambdas/lookup/handler.ts',
  retention: 'lambdas/retention/handler.ts',
} as const;
export type HandlerName = keyof typeof HANDLER_ENTRIES;

/** Physical names of the data resources for one deployment prefix (e.g. `fp-dev`, `fp-local`). */
export interface ResourceNames {
  /** Kinesis stream all producers write to. */
  readonly stream: string;
  /**
   * DynamoDB online store: one item per entity per group with its latest values, window tiles,
   * per-shard checkpoints and recent event ids (the exactly-once state).
   */
  readonly onlineTable: string;
  /** S3 offline store: feature history as Parquet under `features/group=<g>/dt=<yyyy-mm-dd>/`. */
  readonly offlineBucket: string;
  /**
   * S3 side outputs: `quarantine/`, `late/`, `duplicate/`, and the event source mapping's
   * on-failure records under `aws/lambda/` (where AWS's S3 on-failure destination writes them).
   */
  readonly sideOutputBucket: string;
  /** The deployment prefix; IAM roles of lib/access-roles.ts are named `<prefix>-<role>`. */
  readonly prefix: string;
  /** The stream processor function. */
  readonly processorFunction: string;
  /** The lookup API function. */
  readonly lookupFunction: string;
}

export function resourceNames(prefix: string, bucketSuffix = ''): ResourceNames {
  if (!/^[a-z][a-z0-9-]{1,20}$/.test(prefix)) {
    throw new Error(`resource prefix "${prefix}" must match ^[a-z][a-z0-9-]{1,20}$`);
  }
  const suffix = bucketSuffix ? `-${bucketSuffix}` : '';
  return {
    stream: `${prefix}-events`,
    onlineTable: `${prefix}-online`,
    offlineBucket: `${prefix}-offline${suffix}`,
    sideOutputBucket: `${prefix}-side-outputs${suffix}`,
    prefix,
    processorFunction: `${prefix}-processor`,
    lookupFunction: `${prefix}-lookup`,
  };
}

/** Offline feature history: `<prefix>group=<group>/dt=<yyyy-mm-dd>/<batch>.parquet` in the offline bucket. */
export const OFFLINE_FEATURES_PREFIX = 'features/';
/** Raw events, per contract (the processor writes them under this prefix; see lambdas/core/batch-outputs.ts). */
export const OFFLINE_EVENTS_PREFIX = 'events/';
/** The offline datasets' roots: what retention expires, and what erasure and retention may delete. */
export const OFFLINE_DATASET_ROOTS = [OFFLINE_FEATURES_PREFIX, OFFLINE_EVENTS_PREFIX] as const;
/** Erasure records (offline/erasure/audit.ts), in the offline bucket: kept past the datasets' retention. */
export const ERASURE_RECORDS_PREFIX = 'audit/erasure/';
/** Where AWS's S3 on-failure destination of an event source mapping writes its records, in the side-output bucket. */
export const ON_FAILURE_PREFIX = 'aws/lambda/';
/**
 * The side-output bucket's S3 request-metrics filter on `ON_FAILURE_PREFIX`: its `PutRequests` count
 * the batches the event source mapping gave up (lib/constructs/stream-event-source.ts alarms on it).
 */
export const ON_FAILURE_METRICS_FILTER_ID = 'GivenUpRecords';
/**
 * Records the processor parked, in the side-output bucket: an entity they feed cannot be written
 * (lambdas/core/process-batch.ts, step 7); `npm run redrive` finishes them.
 */
export const PARKED_PREFIX = 'parked/';
/** The side outputs of records not applied, each kept under `<kind>/` (lambdas/core/batch-outputs.ts). */
export const SIDE_OUTPUT_KINDS = ['quarantine', 'late', 'duplicate'] as const;
/**
 * Where a parked record's entry goes once a redrive completed it (`parked-done/` + the rest of its
 * key), naming the copy that did: a redelivery of that copy is then told from another copy.
 */
export const PARKED_DONE_PREFIX = 'parked-done/';
export const parkedDoneKey = (parkedKey: string): string =>
  `${PARKED_DONE_PREFIX}${parkedKey.slice(PARKED_PREFIX.length)}`;

/**
 * Offline objects the processor could not write before their records neared the age the event source
 * mapping gives up at, kept in the side-output bucket under their offline key until `npm run redrive`
 * puts them in place (lambdas/core/process-batch.ts step 8).
 */
export const PARKED_ROWS_PREFIX = 'parked-rows/';
export const parkedRowsKey = (offlineKey: string): string => `${PARKED_ROWS_PREFIX}${offlineKey}`;
/**
 * A parked offline object's metadata naming the KMS key it is to have in the offline bucket (its
 * dataset's own, lib/data-classification.ts offlineObjectKeyClasses); absent: the bucket's default.
 */
export const PARKED_ROWS_KMS_KEY_METADATA = 'offline-kms-key-id';

export const offlineGroupPrefix = (group: string): string => `${OFFLINE_FEATURES_PREFIX}group=${group}/`;
/** Raw events of one contract: `events/contract=<contract>/dt=<yyyy-mm-dd>/<batch>.parquet`. */
export const offlineEventsPrefix = (contract: string): string =>
  `${OFFLINE_EVENTS_PREFIX}contract=${contract}/`;

/** Key schema and TTL of a DynamoDB table; both tables use a single string partition key `pk`. */
export interface TableSpec {
  readonly partitionKey: { readonly name: string; readonly type: 'S' };
  readonly timeToLiveAttribute: string;
}

/** Online store: item `pk = <group>#<entityId>`; TTL after the group's TTL and longest window (epoch seconds). */
export const ONLINE_TABLE: TableSpec = {
  partitionKey: { name: 'pk', type: 'S' },
  timeToLiveAttribute: 'expires_at',
};

/**
 * The event source mapping between the stream and the processor: the CDK app configures AWS's
 * with these values and the local event source mapping honours the same ones.
 */
export interface StreamSourceSettings {
  /** Records per invocation (AWS: 1-10,000). */
  readonly batchSize: number;
  /** How long to gather records before invoking (AWS: 0-300 s). */
  readonly maxBatchingWindowMs: number;
  /** Split a failing batch in two and retry each half. */
  readonly bisectBatchOnError: boolean;
  /**
   * Retries of a failing batch before its records go to the on-failure destination (AWS: 0-10,000,
   * or -1: until they reach `maxRecordAgeSeconds`).
   */
  readonly retryAttempts: number;
  /** Records older than this go to the on-failure destination instead of being retried (AWS: 60-604,800 s). */
  readonly maxRecordAgeSeconds: number;
  /** Concurrent batches per shard (AWS: 1-10); order is kept per partition key. */
  readonly parallelizationFactor: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
}

/**
 * Refuses a parallelization factor above 1 while groups that need each shard's records in order
 * exist (groups not keyed by the partition key: Lambda keeps order per partition key only).
 */
export function assertParallelizationSafe(
  parallelizationFactor: number,
  groupsNeedingShardOrder: readonly string[],
): void {
  if (parallelizationFactor > 1 && groupsNeedingShardOrder.length > 0) {
    throw new Error(
      `parallelizationFactor ${parallelizationFactor} needs every feature group keyed by its stream's partition key; ` +
        `${groupsNeedingShardOrder.join(', ')} ${groupsNeedingShardOrder.length > 1 ? 'are' : 'is'} not, ` +
        'so exactly-once processing requires parallelizationFactor 1 (or a stream partitioned by that entity)',
    );
  }
}

export const STREAM_SOURCE_DEFAULTS: StreamSourceSettings = {
  // An authority entity keeps a batch's event ids in its item until a later batch moves them out
  // (lambdas/core/id-buckets.ts): 500 ids of at most about 250 bytes stay under the 400 KB item limit.
  batchSize: 500,
  maxBatchingWindowMs: 1_000,
  bisectBatchOnError: true,
  // Until the maximum record age. Failures that would recur at every retry are not retried but
  // parked by the processor (process-batch.ts, step 7), so what is retried is an outage, and it is
  // retried until it ends (or for a day). An hour before, a record whose write still fails for a
  // group other than its authority is parked for it (`parkAfterAgeSeconds`): given up after its
  // authority decided it, it would stay half applied, which no redrive could finish. From then on an
  // authority decides nothing new: a record not decided yet is parked whole.
  retryAttempts: -1,
  // An hour under the shortest retention (24 h): a record given up at this age is still there to be
  // written to the on-failure bucket.
  maxRecordAgeSeconds: 23 * 3600,
  parallelizationFactor: 1,
  startingPosition: 'TRIM_HORIZON',
};

/**
 * Environment variables of the processor function (its composition root reads them). `itemLayout`:
 * the entity item layout it writes (lib/environments.ts `entityItemLayout`; local runs, which start
 * empty, write the newest).
 */
export const processorEnvironment = (
  names: ResourceNames,
  itemLayout: ItemLayout,
  /** The stream's retention (lib/environments.ts `retentionHours`; Kinesis' least, 24, locally). */
  retentionHours = 24,
): Record<string, string> => ({
  ONLINE_TABLE: names.onlineTable,
  OFFLINE_BUCKET: names.offlineBucket,
  SIDE_OUTPUT_BUCKET: names.sideOutputBucket,
  ENTITY_ITEM_LAYOUT: String(itemLayout),
  PARK_AFTER_AGE_SECONDS: String(parkAfterAgeSeconds(STREAM_SOURCE_DEFAULTS.maxRecordAgeSeconds)),
  HOLE_TTL_SECONDS: String(holeTtlSeconds(retentionHours)),
});

/**
 * The processor's timeout. A batch takes about 1.2 s of CPU; the rest is for a batch whose AWS calls
 * all time out and retry: its calls stop short of the end (lambdas/shared/deadline.ts, a minute
 * before it for DynamoDB), so that it ends with its records failed, and those near the age limit
 * parked, instead of timing out, which parks nothing. Local runs give the handler the same time.
 */
export const PROCESSOR_TIMEOUT_SECONDS = 300;

/**
 * How long an entity keeps a hole (process-batch.ts `holeTtlMs`): the stream's retention and a day.
 * A record parked whole comes back by a replay of the stream (a lost checkpoint) as long as the
 * stream keeps it, perhaps before its redrive, and its merchant must then still know it never
 * applied it.
 */
export const holeTtlSeconds = (retentionHours: number): number => (retentionHours + 24) * 3600;

/**
 * The age at which the processor parks a record whose entity write still fails (process-batch.ts
 * `parkAfterMs`), for an event source mapping that gives up on records at `maxRecordAgeSeconds`: an
 * hour before (a quarter of it, if that is less), so that the retries of that hour can park it. Parked,
 * a redrive finishes it exactly once; given up, it may stay half applied.
 */
export const parkAfterAgeSeconds = (maxRecordAgeSeconds: number): number =>
  maxRecordAgeSeconds - Math.min(3600, Math.floor(maxRecordAgeSeconds / 4));

/**
 * The KMS encryption context of the data keys that seal raw payloads in the side outputs
 * (lambdas/adapters/aes-gcm-sealer.ts); the PII key's policy allows direct use in this context only.
 */
export const SEAL_ENCRYPTION_CONTEXT: Readonly<Record<string, string>> = { purpose: 'side-output-seal' };

/** Where the deployed processor finds its PII keys (AWS only; local runs set the keys themselves). */
export interface ProcessorKeyLocations {
  /** ARN of the Secrets Manager secret holding the tokenization key (base64). */
  readonly piiTokenSecretArn: string;
  /** ARN of the KMS key whose data keys seal raw payloads (the PII key). */
  readonly piiKmsKeyArn: string;
  /** ARN of the general key, for offline objects that hold no PII. */
  readonly generalKmsKeyArn: string;
  /**
   * Offline datasets written under another key than the bucket's default, by key prefix
   * (lib/data-classification.ts `offlineObjectKeyClasses`).
   */
  readonly offlineObjectKeys: Readonly<Record<string, KeyClass>>;
}

/**
 * Environment variables of the deployed processor: {@link processorEnvironment} plus the key
 * locations (lambdas/shared/config.ts `processorConfigSchema`; never the local-only PII_TOKEN_KEY
 * or PII_SEAL_KEY).
 */
export const deployedProcessorEnvironment = (
  names: ResourceNames,
  keys: ProcessorKeyLocations,
  itemLayout: ItemLayout,
  retentionHours: number,
): Record<string, string> => ({
  ...processorEnvironment(names, itemLayout, retentionHours),
  PII_TOKEN_SECRET_ARN: keys.piiTokenSecretArn,
  PII_KMS_KEY_ID: keys.piiKmsKeyArn,
  GENERAL_KMS_KEY_ID: keys.generalKmsKeyArn,
  OFFLINE_OBJECT_KEYS: JSON.stringify(keys.offlineObjectKeys),
});

/** Environment variables of the lookup function. */
export const lookupEnvironment = (names: ResourceNames): Record<string, string> => ({
  ONLINE_TABLE: names.onlineTable,
  ACCESS_ROLE_PREFIX: names.prefix,
});

/** Lookup API routes (API Gateway REST API resources, IAM-authorised). */
export const LOOKUP_ROUTES = [
  { method: 'GET', resource: '/v1/features/{group}/{entityId}' },
  { method: 'POST', resource: '/v1/features:get' },
] as const;
