/**
 * The permissions of every role, derived from the declarations (lib/access-roles.ts) and the
 * resources of one environment. Pure data: the stacks turn it into policies, the tests read it.
 */
import type { AccessRole, ConsumerRole, DataScientistRole } from './access-roles.js';
import { featureGroupsClassification } from './data-classification.js';
import { workgroupName } from './deployment-names.js';
import {
  arns,
  distinct,
  encryptionContextConditions,
  KEY_ADMIN_ACTIONS,
  type Permission,
  type PlatformResources,
  SEAL_PAYLOADS_ACTIONS,
} from './permissions.js';
import {
  ERASURE_RECORDS_PREFIX,
  LOOKUP_ROUTES,
  OFFLINE_DATASET_ROOTS,
  offlineGroupPrefix,
  PARKED_DONE_PREFIX,
  PARKED_PREFIX,
  SEAL_ENCRYPTION_CONTEXT,
} from './platform-spec.js';

/** The only table actions the lookup function may take: reads. */
export const LOOKUP_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'] as const;

/**
 * What the stream processor does: read the stream, write the stores and side outputs, read the
 * tokenization key, and seal raw payloads with data keys of the PII key.
 */
export function processorPermissions(r: PlatformResources): Permission[] {
  const a = arns(r);
  const { names, stores } = r;
  // The offline bucket's default key, and each dataset's own (data-classification.ts offlineObjectKeyClasses).
  const objectKeys = distinct([
    a.key(stores.offlineBucket),
    a.key(stores.sideOutputBucket),
    ...Object.values(stores.offlineDatasets).map(a.key),
  ]);
  const perBatch =
    "object keys are generated per batch (prefix, date, record range), so the grant covers the bucket's objects; " +
    'it cannot read or delete them';
  return [
    {
      sid: 'ReadStream',
      actions: [
        'kinesis:DescribeStream',
        'kinesis:DescribeStreamSummary',
        'kinesis:GetRecords',
        'kinesis:GetShardIterator',
        'kinesis:ListShards',
      ],
      resources: [a.stream],
    },
    { sid: 'DecryptStream', actions: ['kms:Decrypt'], resources: [a.key(stores.stream)], via: ['kinesis'] },
    {
      sid: 'ReadWriteOnlineStore',
      actions: [
        'dynamodb:GetItem',
        'dynamodb:BatchGetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:ConditionCheckItem',
      ],
      resources: [a.onlineTable],
    },
    {
      sid: 'UseOnlineStoreKey',
      actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      resources: [a.key(stores.onlineTable)],
      via: ['dynamodb'],
    },
    {
      sid: 'WriteOfflineStore',
      actions: ['s3:PutObject'],
      resources: [a.objects(names.offlineBucket, '')],
      wildcardReason: `put-only, ${perBatch}`,
    },
    {
      sid: 'WriteSideOutputs',
      actions: ['s3:PutObject'],
      resources: [a.objects(names.sideOutputBucket, '')],
      wildcardReason: `put-only, ${perBatch}; Lambda's S3 on-failure destination writes under aws/lambda/`,
    },
    // Lambda's S3 on-failure destination needs ListBucket on its bucket (Lambda developer guide).
    { sid: 'ListSideOutputs', actions: ['s3:ListBucket'], resources: [a.bucket(names.sideOutputBucket)] },
    {
      // A redrive of a record parked for some groups is applied only while its entry exists; the
      // processor then moves the entry to parked-done/ (lambdas/core/process-batch.ts, step 7).
      sid: 'CompleteParkedRecords',
      actions: ['s3:GetObject', 's3:DeleteObject'],
      resources: [a.objects(names.sideOutputBucket, PARKED_PREFIX)],
      wildcardReason: 'parked entries are named per record (date, shard, sequence number)',
    },
    {
      sid: 'ReadParkedCompletions',
      actions: ['s3:GetObject'],
      resources: [a.objects(names.sideOutputBucket, PARKED_DONE_PREFIX)],
      wildcardReason: 'completions are named per parked record (date, shard, sequence number)',
    },
    { sid: 'EncryptObjects', actions: ['kms:GenerateDataKey'], resources: objectKeys, via: ['s3'] },
    {
      sid: 'ReadParkedEntries',
      actions: ['kms:Decrypt'],
      resources: [a.key(stores.sideOutputBucket)],
      via: ['s3'],
    },
    {
      sid: 'ReadTokenizationKey',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [r.piiTokenSecretArn],
    },
    // Secrets Manager decrypts the tokenization key's secret with the PII key for this role.
    {
      sid: 'DecryptTokenizationKey',
      actions: ['kms:Decrypt'],
      resources: [r.keys.pii],
      via: ['secretsmanager'],
    },
    // Direct calls (no kms:ViaService), which the PII key's policy allows to this role only, and
    // only in the sealing encryption context (lib/platform-spec.ts SEAL_ENCRYPTION_CONTEXT).
    {
      sid: 'SealRawPayloads',
      actions: [...SEAL_PAYLOADS_ACTIONS],
      resources: [r.keys.pii],
      conditions: { StringEquals: encryptionContextConditions(SEAL_ENCRYPTION_CONTEXT) },
    },
  ];
}

/** What the lookup function does: read items of the online store. */
export function lookupPermissions(r: PlatformResources): Permission[] {
  const a = arns(r);
  return [
    { sid: 'ReadOnlineStore', actions: [...LOOKUP_TABLE_ACTIONS], resources: [a.onlineTable] },
    {
      sid: 'DecryptOnlineStore',
      actions: ['kms:Decrypt', 'kms:DescribeKey'],
      resources: [a.key(r.stores.onlineTable)],
      via: ['dynamodb'],
    },
  ];
}

/** execute-api ARNs of the routes a consumer may call: `{group}` routes per group, the rest if batch. */
export function consumerRouteArns(role: ConsumerRole, apiStageArn: string): string[] {
  return LOOKUP_ROUTES.flatMap((route) => {
    const arn = (resource: string) =>
      `${apiStageArn}/${route.method}${resource.replaceAll(/\{[^}]+\}/g, '*')}`;
    if (route.resource.includes('{group}')) {
      return role.groups.map((g) => arn(route.resource.replace('{group}', g)));
    }
    return role.batch ? [arn(route.resource)] : [];
  });
}

function dataScientistPermissions(role: DataScientistRole, r: PlatformResources): Permission[] {
  const a = arns(r);
  const { names } = r;
  const groups = r.groups.filter((g) => role.groups.includes(g.name));
  const workgroup = workgroupName(names.prefix, role.name);
  return [
    {
      sid: 'ReadOfflineHistory',
      actions: ['s3:GetObject'],
      resources: groups.map((g) => a.objects(names.offlineBucket, offlineGroupPrefix(g.name))),
      wildcardReason:
        "objects under the allowed group's own prefix (features/group=<group>/), named per date and batch",
    },
    {
      sid: 'ListOfflineHistory',
      actions: ['s3:ListBucket'],
      resources: [a.bucket(names.offlineBucket)],
      conditions: { StringLike: { 's3:prefix': groups.map((g) => `${offlineGroupPrefix(g.name)}*`) } },
    },
    {
      sid: 'LocateBuckets',
      actions: ['s3:GetBucketLocation'],
      resources: [a.bucket(names.offlineBucket), a.bucket(names.queryResultsBucket)],
    },
    {
      sid: 'DecryptOfflineHistory',
      actions: ['kms:Decrypt'],
      resources: distinct(groups.map((g) => a.key(featureGroupsClassification([g])))),
      via: ['s3'],
    },
    {
      sid: 'ReadCatalog',
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
      resources: [a.glueCatalog, a.glueDatabase, ...groups.map((g) => a.glueTable(g.name))],
    },
    {
      sid: 'QueryInOwnWorkgroup',
      actions: [
        'athena:GetWorkGroup',
        'athena:StartQueryExecution',
        'athena:GetQueryExecution',
        'athena:GetQueryResults',
        'athena:StopQueryExecution',
      ],
      resources: [a.workgroup(workgroup)],
    },
    {
      sid: 'WriteQueryResults',
      actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      resources: [a.objects(names.queryResultsBucket, `${workgroup}/`)],
      wildcardReason: "result objects under the role's own workgroup prefix, named by Athena per query id",
    },
    {
      sid: 'ListQueryResults',
      actions: ['s3:ListBucket'],
      resources: [a.bucket(names.queryResultsBucket)],
      conditions: { StringLike: { 's3:prefix': [`${workgroup}/*`] } },
    },
    {
      sid: 'EncryptQueryResults',
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: [a.key(role.clearance)],
      via: ['s3'],
    },
  ];
}

/** The permissions of a declared role in one environment. */
export function accessRolePermissions(role: AccessRole, r: PlatformResources): Permission[] {
  const a = arns(r);
  const { names } = r;
  switch (role.kind) {
    case 'producer':
      return [
        { sid: 'PutEvents', actions: ['kinesis:PutRecord', 'kinesis:PutRecords'], resources: [a.stream] },
        {
          sid: 'EncryptEvents',
          actions: ['kms:GenerateDataKey'],
          resources: [a.key(r.stores.stream)],
          via: ['kinesis'],
        },
      ];
    case 'consumer':
      return [
        {
          sid: 'InvokeLookupRoutes',
          actions: ['execute-api:Invoke'],
          resources: consumerRouteArns(role, r.apiStageArn),
          wildcardReason:
            'the wildcard is the entity id in the path; each resource is one route of one allowed feature group',
        },
      ];
    case 'data-scientist':
      return dataScientistPermissions(role, r);
    case 'operator': {
      const functions = [names.processorFunction, names.lookupFunction];
      return [
        {
          sid: 'DescribePipeline',
          actions: ['kinesis:DescribeStreamSummary', 'kinesis:ListShards'],
          resources: [a.stream],
        },
        {
          sid: 'DescribeOnlineStore',
          actions: [
            'dynamodb:DescribeTable',
            'dynamodb:DescribeContinuousBackups',
            'dynamodb:DescribeTimeToLive',
          ],
          resources: [a.onlineTable],
        },
        {
          sid: 'DescribeAndThrottleFunctions',
          actions: [
            'lambda:GetFunctionConfiguration',
            'lambda:GetFunctionConcurrency',
            'lambda:PutFunctionConcurrency',
            'lambda:DeleteFunctionConcurrency',
          ],
          resources: functions.map(a.function),
        },
        {
          sid: 'ReadFunctionLogs',
          actions: ['logs:FilterLogEvents', 'logs:GetLogEvents', 'logs:DescribeLogStreams'],
          resources: functions.map((f) => a.logStreams(`/aws/lambda/${f}`)),
          wildcardReason:
            "the log streams of the platform functions' own log groups (stream names are per container)",
        },
        {
          sid: 'ReadMetrics',
          actions: ['cloudwatch:GetMetricData', 'cloudwatch:ListMetrics'],
          resources: ['*'],
          wildcardReason:
            'CloudWatch GetMetricData and ListMetrics support no resource-level permissions (AWS Service ' +
            'Authorization Reference); read-only metrics, no stored data',
        },
        {
          sid: 'ReadAlarms',
          actions: ['cloudwatch:DescribeAlarms'],
          resources: [a.alarms],
          wildcardReason: "the account's alarms in the environment's region (states only, no stored data)",
        },
      ];
    }
    case 'deployer':
      return [
        {
          sid: 'DeployWithCdk',
          actions: ['sts:AssumeRole'],
          resources: ['deploy', 'file-publishing', 'lookup'].map(a.cdkBootstrapRole),
        },
      ];
    case 'key-admin':
      return [
        {
          sid: 'AdministerKeys',
          // Not PutKeyPolicy: with it, a key administrator could grant itself decryption. A key's
          // policy changes with a deployment (CloudFormation's execution role), reviewed as code.
          actions: KEY_ADMIN_ACTIONS.filter((a) => a !== 'kms:PutKeyPolicy'),
          resources: [r.keys.pii, r.keys.general],
        },
      ];
    case 'admin':
      return [
        {
          sid: 'AdministerStores',
          actions: [
            'dynamodb:DescribeTable',
            'dynamodb:DescribeContinuousBackups',
            'dynamodb:UpdateContinuousBackups',
            'kinesis:DescribeStreamSummary',
            'kinesis:UpdateShardCount',
            // Break-glass: keeps records the mapping could not give up to its on-failure bucket in
            // the stream until they are redriven from it (docs/operations.md, LostRecordsAlarm).
            'kinesis:IncreaseStreamRetentionPeriod',
            'kinesis:DecreaseStreamRetentionPeriod',
          ],
          resources: [a.onlineTable, a.stream],
        },
        {
          sid: 'ReviewAuditTrail',
          actions: ['cloudtrail:GetTrailStatus', 'cloudtrail:GetEventSelectors'],
          resources: [a.trail],
        },
      ];
    case 'steward':
      return stewardPermissions(r);
  }
}

/** The offline retention function: list the dataset prefixes, delete their objects. Reads nothing. */
export function offlineRetentionPermissions(r: PlatformResources): Permission[] {
  const a = arns(r);
  const { names } = r;
  const datasets = OFFLINE_DATASET_ROOTS;
  return [
    {
      sid: 'ListOfflineDatasets',
      actions: ['s3:ListBucket'],
      resources: [a.bucket(names.offlineBucket)],
      conditions: { StringLike: { 's3:prefix': datasets.map((p) => `${p}*`) } },
    },
    {
      sid: 'DeleteExpiredPartitions',
      actions: ['s3:DeleteObject'],
      resources: datasets.map((p) => a.objects(names.offlineBucket, p)),
      wildcardReason: 'the objects of the dataset partitions past the retention, named per date and batch',
    },
  ];
}

/**
 * Exactly what `npm run forget` (offline/erasure/) and `npm run redrive` (offline/redrive/) call:
 * list, read and rewrite the offline datasets and the side outputs (with their versions), delete
 * online items, write erasure records but never delete them, and put given-up records back into
 * the stream. Decrypts only through S3 (the objects' keys) and encrypts only through Kinesis.
 */
function stewardPermissions(r: PlatformResources): Permission[] {
  const a = arns(r);
  const { names } = r;
  const datasets = OFFLINE_DATASET_ROOTS.map((p) => a.objects(names.offlineBucket, p));
  const sideOutputs = a.objects(names.sideOutputBucket, '');
  return [
    {
      sid: 'EraseOnlineEntities',
      actions: ['dynamodb:DeleteItem'],
      resources: [a.onlineTable],
      // A delete could return the item it deletes: the erasure tool asks for nothing back.
      conditions: { StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' } },
    },
    {
      // The table is under a customer-managed key: DynamoDB decrypts its table key with the
      // caller's credentials, a delete included.
      sid: 'UseOnlineStoreKey',
      actions: ['kms:Decrypt'],
      resources: [a.key(r.stores.onlineTable)],
      via: ['dynamodb'],
    },
    {
      sid: 'ListStoredObjects',
      actions: ['s3:ListBucket', 's3:ListBucketVersions'],
      resources: [a.bucket(names.offlineBucket), a.bucket(names.sideOutputBucket)],
    },
    {
      sid: 'RewriteStoredObjects',
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion'],
      resources: [...datasets, sideOutputs],
      wildcardReason:
        'erasure rewrites the partitions holding the entity (features/, events/) and the side-output objects ' +
        'naming it, and purges their earlier versions; redrive deletes the on-failure objects it put back',
    },
    {
      sid: 'WriteErasureRecords',
      actions: ['s3:PutObject'],
      resources: [a.objects(names.offlineBucket, ERASURE_RECORDS_PREFIX)],
      // Only as a new object (If-None-Match: *): a record is never overwritten, which would let its
      // first version expire with the bucket's noncurrent versions.
      conditions: { Null: { 's3:if-none-match': 'false' } },
      wildcardReason:
        'one record per erasure, named by date and request id; never read or deleted by this role',
    },
    {
      sid: 'ThroughS3',
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [r.keys.pii, r.keys.general],
      via: ['s3'],
    },
    // Side-output payloads are sealed with data keys of the PII key: redrive opens a parked record's
    // to send it back (and erasure looks inside them). The PII key's policy names the steward roles.
    { sid: 'OpenSealedPayloads', actions: ['kms:Decrypt'], resources: [r.keys.pii] },
    { sid: 'RedriveRecords', actions: ['kinesis:PutRecords'], resources: [a.stream] },
    // Break-glass: records the mapping gave up and could not write to the on-failure bucket are
    // read back from the stream (npm run redrive -- --from-stream; their payloads: OpenSealedPayloads'
    // direct Decrypt of the PII key, the stream's).
    {
      sid: 'RedriveFromStream',
      actions: ['kinesis:ListShards', 'kinesis:GetShardIterator', 'kinesis:GetRecords'],
      resources: [a.stream],
    },
    {
      sid: 'EncryptRedrivenRecords',
      actions: ['kms:GenerateDataKey'],
      resources: [a.key(r.stores.stream)],
      via: ['kinesis'],
    },
  ];
}
