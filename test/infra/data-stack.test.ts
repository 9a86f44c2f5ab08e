import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { GLUE_COLUMN_TYPES } from '../../lib/constructs/offline-catalog.js';
import { ON_FAILURE_METRICS_FILTER_ID, ON_FAILURE_PREFIX, ONLINE_TABLE } from '../../lib/platform-spec.js';
import { eventColumns, featureGroups, offlineColumns } from '../../schemas/index.js';
import { transaction } from '../../schemas/transaction.contract.js';
import { logicalId, pick, synthesizeAll } from './platform-fixture.js';

const all = synthesizeAll({ bundling: false });

/** Glue type per offline column type, written out here independently of the implementation. */
const GLUE_TYPE = {
  string: 'string',
  int64: 'bigint',
  int32: 'int',
  float64: 'double',
  boolean: 'boolean',
  timestamp: 'timestamp',
};

describe.each(['dev', 'staging', 'prod'] as const)('data stack (%s)', (name) => {
  const { deployment, data: template } = pick(all, name);
  const { names, data: stack, environment } = deployment;
  const keyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.pii), 'Arn'] };
  const generalKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.general), 'Arn'] };
  const retain = environment.removalPolicy === 'retain';

  it('creates two customer-managed keys, one for PII and one for the rest, both rotating', () => {
    template.resourceCountIs('AWS::KMS::Key', 2);
    expect(
      Object.keys(template.findResources('AWS::KMS::Key', { Properties: { EnableKeyRotation: true } })),
    ).toHaveLength(2);
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: `alias/fp-${name}-pii` });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: `alias/fp-${name}-general` });
  });

  it.each([['online', names.onlineTable, ONLINE_TABLE]])(
    'gives the %s table its spec key schema, KMS encryption, PITR and TTL',
    (_, tableName, spec) => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: tableName,
        KeySchema: [{ AttributeName: spec.partitionKey.name, KeyType: 'HASH' }],
        AttributeDefinitions: [
          { AttributeName: spec.partitionKey.name, AttributeType: spec.partitionKey.type },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: spec.timeToLiveAttribute, Enabled: true },
        DeletionProtectionEnabled: retain,
      });
    },
  );

  it(`${retain ? 'retains' : 'deletes'} the tables with the stack, as the environment says`, () => {
    const policy = retain ? 'Retain' : 'Delete';
    const tables = template.findResources('AWS::DynamoDB::Table', {
      DeletionPolicy: policy,
      UpdateReplacePolicy: policy,
    });
    expect(Object.keys(tables)).toHaveLength(1);
  });

  it.each([
    ['offline', () => names.offlineBucket, 'PII', () => keyArn],
    ['side-output', () => names.sideOutputBucket, 'PII', () => keyArn],
    ['query-results', () => names.queryResultsBucket, 'PII', () => keyArn],
    ['audit', () => names.auditBucket, 'general', () => generalKeyArn],
  ])(
    'encrypts the %s bucket with the %s key, blocks public access and logs access',
    (_, bucketName, _k, key) => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketName: bucketName(),
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key() },
            },
          ],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(stack, stack.accessLogsBucket) } },
      });
    },
  );

  it('expires feature history and raw events after the record-keeping period, and keeps erasure records', () => {
    const bucket = Object.values(
      template.findResources('AWS::S3::Bucket', { Properties: { BucketName: names.offlineBucket } }),
    )[0];
    const rules = bucket?.Properties.LifecycleConfiguration.Rules as {
      Prefix?: string;
      ExpirationInDays?: number;
    }[];
    expect(
      rules.filter((r) => r.ExpirationInDays !== undefined).map((r) => [r.Prefix, r.ExpirationInDays]),
    ).toEqual([
      ['features/', environment.offlineRetentionDays],
      ['events/', environment.offlineRetentionDays],
    ]);
  });

  it('notifies the alarm topic of every batch the mapping gives up, through EventBridge, for that rule only', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: names.sideOutputBucket,
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    const rule = logicalId(stack, stack.givenUpNotification);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: logicalId(stack, stack.sideOutputBucket) }] },
          object: { key: [{ prefix: ON_FAILURE_PREFIX }] },
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { Ref: logicalId(stack, stack.alarmTopic) },
          InputTransformer: {
            InputPathsMap: {
              'detail-bucket-name': '$.detail.bucket.name',
              'detail-object-key': '$.detail.object.key',
            },
            InputTemplate: Match.stringLikeRegexp(
              'gave up a batch .*s3://<detail-bucket-name>/<detail-object-key>',
            ),
          },
        }),
      ],
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'GivenUpBatchNotification',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [rule, 'Arn'] } } },
          }),
        ]),
      },
    });
    // No custom resource (a Lambda function and its role) to set the bucket's notifications.
    expect(
      Object.keys(template.toJSON().Resources).filter((id) => id.includes('BucketNotifications')),
    ).toEqual([]);
  });

  it("counts the puts to the on-failure prefix (the mapping's given-up batches) in an S3 request-metrics filter", () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: names.sideOutputBucket,
      MetricsConfigurations: [{ Id: ON_FAILURE_METRICS_FILTER_ID, Prefix: ON_FAILURE_PREFIX }],
    });
  });

  it("expires Lambda's raw on-failure records after 14 days, the other side outputs after 90, and parked records never", () => {
    const bucket = Object.values(
      template.findResources('AWS::S3::Bucket', { Properties: { BucketName: names.sideOutputBucket } }),
    )[0];
    const rules = bucket?.Properties.LifecycleConfiguration.Rules as {
      Prefix?: string;
      ExpirationInDays?: number;
      NoncurrentVersionExpiration?: { NoncurrentDays: number };
    }[];
    expect(rules.map((r) => [r.Prefix ?? '(all)', r.ExpirationInDays])).toEqual([
      ['(all)', undefined],
      ['quarantine/', 90],
      ['late/', 90],
      ['duplicate/', 90],
      ['aws/lambda/', 14],
      ['parked-done/', 14],
      // A parked record is the only copy of its event until a redrive finishes it, a parked offline
      // object the only copy of its rows until a redrive puts it in place.
      ['parked/', undefined],
      ['parked-rows/', undefined],
    ]);
    // Superseded versions of parked entries (sealed payloads) and of parked rows go after a day.
    for (const prefix of ['parked/', 'parked-rows/'])
      expect(rules.find((r) => r.Prefix === prefix)?.NoncurrentVersionExpiration).toEqual({
        NoncurrentDays: 1,
      });
  });

  it("lets this account's CloudWatch alarms of this region publish to the alarm topic, over TLS only", () => {
    // The topic policy replaces SNS's default one: without an explicit allow, no alarm could publish.
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Sid: 'CloudWatchAlarmsPublish',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: {
              StringEquals: { 'aws:SourceAccount': environment.account },
              ArnLike: {
                'aws:SourceArn': `arn:aws:cloudwatch:${environment.region}:${environment.account}:alarm:*`,
              },
            },
          }),
        ]),
      },
    });
  });

  it('denies every request to every bucket that does not use TLS', () => {
    const policies = template.findResources('AWS::S3::BucketPolicy', {
      Properties: {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      },
    });
    expect(Object.keys(policies)).toHaveLength(5);
  });

  it('gives each contract an events Glue table over its raw events, columns from the contract', () => {
    const location = `s3://${names.offlineBucket}/events/contract=transaction/`;
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: `fp_${name}`,
      TableInput: Match.objectLike({
        Name: 'events_transaction',
        PartitionKeys: [Match.objectLike({ Name: 'dt', Type: 'string' })],
        Parameters: Match.objectLike({
          'projection.enabled': 'true',
          'storage.location.template': `${location}dt=\${dt}/`,
        }),
        StorageDescriptor: Match.objectLike({
          Location: location,
          Columns: Match.exact(
            eventColumns(transaction).map((c) => ({
              Name: c.name,
              Type: GLUE_COLUMN_TYPES[c.type],
              Comment: c.description,
            })),
          ),
        }),
      }),
    });
  });

  it('names the Glue database after the environment', () => {
    template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: `fp_${name}` } });
  });

  it.each(featureGroups.map((g) => [g.name, g] as const))(
    'gives the %s Glue table exactly the offline columns, Parquet, and dt partition projection',
    (groupName, group) => {
      const location = `s3://${names.offlineBucket}/features/group=${groupName}/`;
      template.hasResourceProperties('AWS::Glue::Table', {
        DatabaseName: `fp_${name}`,
        TableInput: {
          Name: groupName,
          TableType: 'EXTERNAL_TABLE',
          PartitionKeys: [Match.objectLike({ Name: 'dt', Type: 'string' })],
          Parameters: Match.objectLike({
            'projection.enabled': 'true',
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': Match.stringLikeRegexp('^\\d{4}-\\d{2}-\\d{2},NOW$'),
            'storage.location.template': `${location}dt=\${dt}/`,
          }),
          StorageDescriptor: {
            Location: location,
            InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            SerdeInfo: {
              SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
            },
            Columns: Match.exact(
              offlineColumns(group).map((c) => ({
                Name: c.name,
                Type: GLUE_TYPE[c.type],
                Comment: c.description,
              })),
            ),
          },
        },
      });
    },
  );

  it('tags stored data with its most sensitive classification', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: names.onlineTable,
      Tags: Match.arrayWith([
        { Key: 'data-classification', Value: 'pii' },
        { Key: 'environment', Value: name },
        { Key: 'project', Value: 'feature-platform' },
      ]),
    });
  });
});
