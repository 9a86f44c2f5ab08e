/**
 * The RBAC matrix as the issue states it, written out here independently of lib/access-permissions.ts:
 * the resources and actions probed, and for each role what it may do. Everything else is denied.
 */
import type { AccessRole } from '../../lib/access-roles.js';
import type { PlatformDeployment } from '../../lib/app-builder.js';

/** A role under test: a declared access role or one of the two function roles. */
export type Subject = AccessRole | { readonly kind: 'processor' | 'lookup'; readonly name: string };

type Via = 's3' | 'kinesis' | 'dynamodb' | 'backup' | 'secretsmanager';
export type What =
  | {
      kind:
        | 'stream'
        | 'table'
        | 'raw-events'
        | 'side-outputs'
        | 'parked'
        | 'parked-done'
        | 'trail'
        | 'function'
        | 'metrics'
        | 'cdk-role'
        | 'token-secret';
    }
  | { kind: 'offline' | 'offline-list' | 'glue-table'; group: string }
  | { kind: 'results' | 'workgroup'; owner: string }
  | { kind: 'key'; key: 'pii' | 'general'; via?: Via }
  | { kind: 'route'; group?: string };

export interface MatrixResource {
  readonly id: string;
  readonly what: What;
  readonly arn: string;
  readonly actions: readonly string[];
  readonly context: Readonly<Record<string, string>>;
}

/** Which key each group's offline files need: customer keeps `email` (PII), merchant keeps no PII. */
export const GROUP_KEY: Readonly<Record<string, 'pii' | 'general'>> = {
  customer: 'pii',
  merchant: 'general',
};

const OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'];
const KEY_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:ScheduleKeyDeletion',
  'kms:DisableKeyRotation',
  'kms:PutKeyPolicy',
];

/**
 * The probed resources of one environment; `keyArn`, `apiId` and `tokenSecretArn` come from the
 * resolved templates.
 */
export function matrixResources(
  d: PlatformDeployment,
  keyArn: (key: 'pii' | 'general') => string,
  apiId: string,
  scientists: readonly string[],
  tokenSecretArn: string,
): MatrixResource[] {
  const { region, account } = d.environment;
  const { names } = d;
  const arn = (service: string, resource: string) => `arn:aws:${service}:${region}:${account}:${resource}`;
  const s3 = (bucket: string, key = '') => `arn:aws:s3:::${bucket}${key ? `/${key}` : ''}`;
  // Every subject is an IAM role of the environment's account (the identity perimeter, lib/constructs/identity-perimeter.ts).
  const base = {
    'aws:RequestedRegion': region,
    'aws:SecureTransport': 'true',
    'aws:PrincipalAccount': account,
    'aws:PrincipalIsAWSService': 'false',
  };
  const r = (
    id: string,
    what: What,
    resource: string,
    actions: string[],
    context: Record<string, string> = {},
  ) => ({
    id,
    what,
    arn: resource,
    actions,
    context: { ...base, ...context },
  });
  const groups = Object.keys(GROUP_KEY);
  const route = `${arn('execute-api', apiId)}/api`;
  return [
    r('stream', { kind: 'stream' }, arn('kinesis', `stream/${names.stream}`), [
      'kinesis:PutRecord',
      'kinesis:PutRecords',
      'kinesis:GetRecords',
      'kinesis:GetShardIterator',
      'kinesis:DescribeStreamSummary',
      'kinesis:UpdateShardCount',
      'kinesis:IncreaseStreamRetentionPeriod',
      'kinesis:DeleteStream',
    ]),
    r('online table', { kind: 'table' }, arn('dynamodb', `table/${names.onlineTable}`), [
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:Query',
      'dynamodb:Scan',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:DescribeTable',
      'dynamodb:DeleteTable',
    ]),
    ...groups.flatMap((g) => [
      r(
        `offline ${g} files`,
        { kind: 'offline', group: g },
        s3(names.offlineBucket, `features/group=${g}/dt=2026-01-01/b-1.parquet`),
        OBJECT_ACTIONS,
      ),
      r(
        `offline ${g} listing`,
        { kind: 'offline-list', group: g },
        s3(names.offlineBucket),
        ['s3:ListBucket'],
        {
          's3:prefix': `features/group=${g}/dt=2026-01-01/`,
        },
      ),
      r(
        `glue table ${g}`,
        { kind: 'glue-table', group: g },
        arn('glue', `table/${names.glueDatabase}/${g}`),
        ['glue:GetTable', 'glue:DeleteTable'],
      ),
      r(`route GET ${g}`, { kind: 'route', group: g }, `${route}/GET/v1/features/${g}/ent_1234`, [
        'execute-api:Invoke',
      ]),
    ]),
    r('route POST batch', { kind: 'route' }, `${route}/POST/v1/features:get`, ['execute-api:Invoke']),
    r(
      'offline raw events',
      { kind: 'raw-events' },
      s3(names.offlineBucket, 'events/contract=transaction/b-1.parquet'),
      OBJECT_ACTIONS,
    ),
    r(
      'side outputs',
      { kind: 'side-outputs' },
      s3(names.sideOutputBucket, 'quarantine/2026-01-01/r-1.json'),
      OBJECT_ACTIONS,
    ),
    r(
      'parked records',
      { kind: 'parked' },
      s3(names.sideOutputBucket, 'parked/dt=2026-01-01/shardId-000000000000/1.json'),
      OBJECT_ACTIONS,
    ),
    r(
      'parked records completed',
      { kind: 'parked-done' },
      s3(names.sideOutputBucket, 'parked-done/dt=2026-01-01/shardId-000000000000/1.json'),
      OBJECT_ACTIONS,
    ),
    ...scientists.flatMap((owner) => [
      r(
        `results of ${owner}`,
        { kind: 'results', owner },
        s3(names.queryResultsBucket, `${names.prefix}-${owner}/q-1.csv`),
        OBJECT_ACTIONS,
      ),
      r(
        `workgroup of ${owner}`,
        { kind: 'workgroup', owner },
        arn('athena', `workgroup/${names.prefix}-${owner}`),
        ['athena:StartQueryExecution', 'athena:GetQueryResults', 'athena:DeleteWorkGroup'],
      ),
    ]),
    r('pii token secret', { kind: 'token-secret' }, tokenSecretArn, [
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
      'secretsmanager:DeleteSecret',
    ]),
    ...(['s3', 'kinesis', 'dynamodb', 'backup', 'secretsmanager', undefined] as const).map((via) =>
      r(
        `pii key ${via ? `via ${via}` : 'direct'}`,
        { kind: 'key', key: 'pii', via },
        keyArn('pii'),
        KEY_ACTIONS,
        via ? { 'kms:ViaService': `${via}.${region}.amazonaws.com` } : {},
      ),
    ),
    ...(['s3', undefined] as const).map((via) =>
      r(
        `general key ${via ? `via ${via}` : 'direct'}`,
        { kind: 'key', key: 'general', via },
        keyArn('general'),
        KEY_ACTIONS,
        via ? { 'kms:ViaService': `${via}.${region}.amazonaws.com` } : {},
      ),
    ),
    r('trail', { kind: 'trail' }, arn('cloudtrail', `trail/${names.trail}`), [
      'cloudtrail:GetTrailStatus',
      'cloudtrail:StopLogging',
      'cloudtrail:DeleteTrail',
    ]),
    r('processor function', { kind: 'function' }, arn('lambda', `function:${names.processorFunction}`), [
      'lambda:PutFunctionConcurrency',
      'lambda:UpdateFunctionCode',
      'lambda:InvokeFunction',
    ]),
    r('metrics', { kind: 'metrics' }, '*', ['cloudwatch:GetMetricData']),
    r(
      'cdk deploy role',
      { kind: 'cdk-role' },
      `arn:aws:iam::${account}:role/cdk-hnb659fds-deploy-role-${account}-${region}`,
      ['sts:AssumeRole'],
    ),
  ];
}

/** The actions of `resource` the subject may take, as the issue declares them. */
export function expectedActions(subject: Subject, w: What): string[] {
  const is = (kind: What['kind']) => w.kind === kind;
  const key = (k: 'pii' | 'general', via?: Via) =>
    w.kind === 'key' && w.key === k && (via === undefined || w.via === via);
  switch (subject.kind) {
    case 'producer':
      if (is('stream')) return ['kinesis:PutRecord', 'kinesis:PutRecords'];
      // The transaction contract carries customerEmail (PII): the stream is under the PII key.
      return key('pii', 'kinesis') ? ['kms:GenerateDataKey'] : [];
    case 'consumer':
      if (w.kind !== 'route') return [];
      return (w.group ? subject.groups.includes(w.group) : subject.batch) ? ['execute-api:Invoke'] : [];
    case 'data-scientist': {
      const mine = (g: string) => subject.groups.includes(g);
      if (w.kind === 'offline' && mine(w.group)) return ['s3:GetObject'];
      if (w.kind === 'offline-list' && mine(w.group)) return ['s3:ListBucket'];
      if (w.kind === 'glue-table' && mine(w.group)) return ['glue:GetTable'];
      if (w.kind === 'results' && w.owner === subject.name) return ['s3:GetObject', 's3:PutObject'];
      if (w.kind === 'workgroup' && w.owner === subject.name)
        return ['athena:StartQueryExecution', 'athena:GetQueryResults'];
      if (w.kind !== 'key' || w.via !== 's3') return [];
      const actions = new Set<string>();
      if (subject.groups.some((g) => GROUP_KEY[g] === w.key)) actions.add('kms:Decrypt');
      if ((subject.clearance === 'pii' ? 'pii' : 'general') === w.key) {
        actions.add('kms:Decrypt');
        actions.add('kms:GenerateDataKey');
      }
      return [...actions];
    }
    case 'operator':
      if (is('stream')) return ['kinesis:DescribeStreamSummary'];
      if (is('table')) return ['dynamodb:DescribeTable'];
      if (is('function')) return ['lambda:PutFunctionConcurrency'];
      return is('metrics') ? ['cloudwatch:GetMetricData'] : [];
    case 'deployer':
      return is('cdk-role') ? ['sts:AssumeRole'] : [];
    case 'key-admin':
      return is('key') ? ['kms:ScheduleKeyDeletion'] : [];
    case 'admin':
      if (is('table')) return ['dynamodb:DescribeTable'];
      if (is('stream'))
        return [
          'kinesis:DescribeStreamSummary',
          'kinesis:IncreaseStreamRetentionPeriod',
          'kinesis:UpdateShardCount',
        ];
      return is('trail') ? ['cloudtrail:GetTrailStatus'] : [];
    case 'steward':
      // Erasure and redrive: read and rewrite stored objects, delete items, put records back.
      if (is('table')) return ['dynamodb:DeleteItem'];
      // Puts records back, and reads them from the stream when the on-failure bucket lost them.
      if (is('stream')) return ['kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:PutRecords'];
      if (is('offline') || is('raw-events') || is('side-outputs') || is('parked') || is('parked-done'))
        return [...OBJECT_ACTIONS];
      if (is('offline-list')) return ['s3:ListBucket'];
      if (key('pii', 's3') || key('general', 's3')) return ['kms:Decrypt', 'kms:GenerateDataKey'];
      // Opens sealed side-output payloads (a parked record's, to redrive it) with a direct Decrypt,
      // which holds whatever service asks (a delete from the table under the PII key needs it through
      // DynamoDB too); encrypts redriven records through Kinesis.
      if (key('pii', 'kinesis')) return ['kms:Decrypt', 'kms:GenerateDataKey'];
      return key('pii') ? ['kms:Decrypt'] : [];
    case 'processor':
      if (is('stream'))
        return ['kinesis:DescribeStreamSummary', 'kinesis:GetRecords', 'kinesis:GetShardIterator'];
      if (is('table'))
        return ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
      if (is('offline') || is('raw-events') || is('side-outputs')) return ['s3:PutObject'];
      // Completes a parked record's redrive: reads its entry, removes it once applied.
      if (is('parked')) return ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'];
      if (is('parked-done')) return ['s3:GetObject', 's3:PutObject'];
      // Reads the tokenization key (Secrets Manager decrypts it with the PII key on its behalf).
      if (is('token-secret')) return ['secretsmanager:GetSecretValue'];
      // The PII key through the services that store its data: the table's items (read, write), the
      // stream (read), parked entries (read) and objects (write), the tokenization key's secret
      // (read). Directly, only sealing data keys in their context (rbac-matrix.test.ts probes it;
      // these requests carry none). Never the general key directly, never key administration.
      if (key('pii', 'dynamodb')) return ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'];
      if (key('pii', 's3')) return ['kms:Decrypt', 'kms:GenerateDataKey'];
      if (key('pii', 'kinesis') || key('pii', 'secretsmanager')) return ['kms:Decrypt'];
      return key('general', 's3') ? ['kms:GenerateDataKey'] : [];
    case 'lookup':
      if (is('table')) return ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query'];
      return key('pii', 'dynamodb') ? ['kms:Decrypt'] : [];
  }
}
