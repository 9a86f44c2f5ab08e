/**
 * IAM permissions as plain data (no CDK import): what a role may do, on which ARNs, through which
 * services. lib/constructs/platform-role.ts turns them into one customer-managed policy whose
 * every statement also carries the environment's `aws:RequestedRegion` condition.
 */
import type { Classification, FeatureGroup } from '../schemas/index.js';
import { type KeyClass, keyClassOf, type StoreClassifications } from './data-classification.js';
import type { DeploymentNames } from './deployment-names.js';

/** One statement: allow `actions` on `resources`, optionally only through AWS services. */
export interface Permission {
  /** Statement id, PascalCase: what the permission is for. */
  readonly sid: string;
  /** Exact IAM actions; wildcards are refused. */
  readonly actions: readonly string[];
  /** ARNs (CDK tokens allowed). */
  readonly resources: readonly string[];
  /** KMS only through these services (`kms:ViaService`), e.g. `['s3']`. */
  readonly via?: readonly string[];
  /** Further IAM conditions: operator -> key -> values. */
  readonly conditions?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
  /** Why a `*` in a resource is needed (becomes the AwsSolutions-IAM5 acknowledgement). */
  readonly wildcardReason?: string;
}

/** What permissions are written against: one environment's names, keys and API. */
export interface PlatformResources {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly names: DeploymentNames;
  /** Key ARN of each key class. */
  readonly keys: Readonly<Record<KeyClass, string>>;
  /** Classification of each store (decides its key). */
  readonly stores: StoreClassifications;
  /** Feature groups, with their own classification (decides the key of their offline objects). */
  readonly groups: readonly FeatureGroup[];
  /** Lookup API stage: `arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage>`. */
  readonly apiStageArn: string;
  /** ARN of the Secrets Manager secret holding the PII tokenization key (generated suffix: a token). */
  readonly piiTokenSecretArn: string;
}

/** ARN builders over {@link PlatformResources}. */
export function arns(r: PlatformResources) {
  const regional = (service: string, resource: string) =>
    `arn:${r.partition}:${service}:${r.region}:${r.account}:${resource}`;
  const bucket = (name: string) => `arn:${r.partition}:s3:::${name}`;
  return {
    stream: regional('kinesis', `stream/${r.names.stream}`),
    onlineTable: regional('dynamodb', `table/${r.names.onlineTable}`),
    bucket,
    /** Objects under a key prefix (`''` for the whole bucket). */
    objects: (name: string, keyPrefix: string) => `${bucket(name)}/${keyPrefix}*`,
    function: (name: string) => regional('lambda', `function:${name}`),
    /** A log group and its streams. */
    logStreams: (logGroupName: string) => regional('logs', `log-group:${logGroupName}:*`),
    glueCatalog: regional('glue', 'catalog'),
    glueDatabase: regional('glue', `database/${r.names.glueDatabase}`),
    glueTable: (table: string) => regional('glue', `table/${r.names.glueDatabase}/${table}`),
    workgroup: (name: string) => regional('athena', `workgroup/${name}`),
    trail: regional('cloudtrail', `trail/${r.names.trail}`),
    /** Every CloudWatch alarm of the account in the region. */
    alarms: regional('cloudwatch', 'alarm:*'),
    /** An IAM role of the account, by name. */
    role: (name: string) => `arn:${r.partition}:iam::${r.account}:role/${name}`,
    /** A role of the CDK bootstrap stack (default qualifier). */
    cdkBootstrapRole: (purpose: string) =>
      `arn:${r.partition}:iam::${r.account}:role/cdk-hnb659fds-${purpose}-role-${r.account}-${r.region}`,
    /** The key of a store or group of this classification. */
    key: (classification: Classification) => r.keys[keyClassOf(classification)],
  };
}

/** Distinct values, in first-seen order. */
export const distinct = <T>(values: Iterable<T>): T[] => [...new Set(values)];

/** Lambda's log streams and X-Ray: what every platform function needs whatever it does. */
export function functionRuntimePermissions(logGroupArn: string): Permission[] {
  return [
    { sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroupArn] },
    {
      sid: 'WriteTraces',
      actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
      resources: ['*'],
      wildcardReason:
        'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions (AWS Service ' +
        'Authorization Reference); they write trace metadata only and carry the aws:RequestedRegion condition',
    },
  ];
}

/**
 * What sealing raw payloads takes (lambdas/adapters/aes-gcm-sealer.ts): data keys. Their decryption
 * is for whoever opens the payloads (a data steward), never the processor.
 */
export const SEAL_PAYLOADS_ACTIONS = ['kms:GenerateDataKey'] as const;

/** An encryption context as condition keys (`kms:EncryptionContext:<key>`). */
export const encryptionContextConditions = (
  context: Readonly<Record<string, string>>,
): Record<string, string> =>
  Object.fromEntries(Object.entries(context).map(([k, v]) => [`kms:EncryptionContext:${k}`, v]));

/** Key administration without any cryptographic use: for the key policy and the admin role. */
export const KEY_ADMIN_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:PutKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:EnableKeyRotation',
  'kms:RotateKeyOnDemand',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:UpdateKeyDescription',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:ListGrants',
  'kms:RevokeGrant',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
] as const;
