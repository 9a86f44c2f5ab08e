import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS, logicalId, pick, synthesizeAll } from './platform-fixture.js';

const all = synthesizeAll({ bundling: false });

describe.each(ENVIRONMENTS)('audit (%s)', (name) => {
  const { deployment: d, audit, data, serving } = pick(all, name);
  const { environment, names } = d;
  const { account, region } = environment;
  const trailArn = `arn:aws:cloudtrail:${region}:${account}:trail/${names.trail}`;
  const trail = () => Object.values(audit.findResources('AWS::CloudTrail::Trail'))[0]?.Properties;

  it('records a multi-region trail (IAM and STS events are only in us-east-1) with log file validation into the audit bucket of this region, under the general key', () => {
    audit.resourceCountIs('AWS::CloudTrail::Trail', 1);
    audit.hasResourceProperties('AWS::CloudTrail::Trail', {
      TrailName: names.trail,
      IsLogging: true,
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
      S3BucketName: names.auditBucket,
      KMSKeyId: { 'Fn::ImportValue': Match.stringLikeRegexp(logicalId(d.data, d.data.keys.general)) },
      CloudWatchLogsLogGroupArn: Match.anyValue(),
      CloudWatchLogsRoleArn: Match.anyValue(),
    });
  });

  it('records the data events of the stream, which carries events before tokenization', () => {
    expect(trail()?.AdvancedEventSelectors).toContainEqual({
      Name: 'AWS::Kinesis::Stream data events',
      FieldSelectors: [
        { Field: 'eventCategory', Equals: ['Data'] },
        { Field: 'resources.type', Equals: ['AWS::Kinesis::Stream'] },
        {
          Field: 'resources.ARN',
          Equals: [`arn:aws:kinesis:${region}:${account}:stream/${names.stream}`],
        },
      ],
    });
  });

  it('records management events and the data events of the offline, side-output and query-result objects', () => {
    const selectors = trail()?.AdvancedEventSelectors;
    expect(selectors).toContainEqual({
      Name: 'Management events',
      FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }],
    });
    expect(selectors).toContainEqual({
      Name: 'AWS::S3::Object data events',
      FieldSelectors: [
        { Field: 'eventCategory', Equals: ['Data'] },
        { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
        {
          Field: 'resources.ARN',
          StartsWith: [names.offlineBucket, names.sideOutputBucket, names.queryResultsBucket].map(
            (b) => `arn:aws:s3:::${b}/`,
          ),
        },
      ],
    });
  });

  it('records the item-level events of the online table', () => {
    expect(trail()?.AdvancedEventSelectors).toContainEqual({
      Name: 'AWS::DynamoDB::Table data events',
      FieldSelectors: [
        { Field: 'eventCategory', Equals: ['Data'] },
        { Field: 'resources.type', Equals: ['AWS::DynamoDB::Table'] },
        {
          Field: 'resources.ARN',
          Equals: [`arn:aws:dynamodb:${region}:${account}:table/${names.onlineTable}`],
        },
      ],
    });
  });

  it('leaves the audit bucket out of its own data events, which would feed back into the trail', () => {
    expect(JSON.stringify(trail()?.AdvancedEventSelectors)).not.toContain(names.auditBucket);
  });

  it('opens the audit bucket to exactly this trail', () => {
    data.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(d.data, d.data.auditBucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'CloudTrailWrite',
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: {
              StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceArn': trailArn },
            },
          }),
        ]),
      },
    });
  });

  it('lets only CloudTrail, for this trail, assume the role delivering to CloudWatch Logs', () => {
    audit.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceArn': trailArn } },
          }),
        ],
      },
    });
  });

  it('keeps the audit log files for the configured days and the access logs of every bucket as long', () => {
    for (const bucket of [names.auditBucket]) {
      data.hasResourceProperties('AWS::S3::Bucket', {
        BucketName: bucket,
        LifecycleConfiguration: {
          Rules: [Match.objectLike({ ExpirationInDays: environment.auditRetentionDays })],
        },
      });
    }
    const logged = Object.values(data.findResources('AWS::S3::Bucket')).filter(
      (b) => b.Properties.LoggingConfiguration,
    );
    expect(logged).toHaveLength(4);
  });

  it('keeps the audit log files write-once (Object Lock, compliance mode) for as long as they are kept, where the environment keeps its data', () => {
    const bucket = Object.values(data.findResources('AWS::S3::Bucket')).find(
      (b) => b.Properties.BucketName === names.auditBucket,
    );
    if (environment.removalPolicy === 'retain')
      expect(bucket?.Properties.ObjectLockConfiguration).toEqual({
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: environment.auditRetentionDays } },
      });
    else expect(bucket?.Properties.ObjectLockConfiguration).toBeUndefined();
    // No other bucket is locked: they are emptied by erasure, expiry and redrive.
    const locked = Object.values(data.findResources('AWS::S3::Bucket')).filter(
      (b) => b.Properties.ObjectLockConfiguration,
    );
    expect(locked).toHaveLength(environment.removalPolicy === 'retain' ? 1 : 0);
  });

  it('access-logs every API request in JSON', () => {
    serving.hasResourceProperties('AWS::ApiGateway::Stage', {
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"caller"') },
    });
  });
});
