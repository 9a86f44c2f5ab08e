import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AUDIT_TRAIL_DEFAULTS } from './audit-trail-defaults.js';
import { PlatformRole } from './platform-role.js';
import { withDefaults } from './with-defaults.js';

export interface AuditTrailProps {
  /** Trail name (its ARN is known before deployment, so bucket and key policies can name it). */
  readonly trailName: string;
  /** Bucket receiving the log files; {@link allowCloudTrailDelivery} must have opened it to the trail. */
  readonly bucketName: string;
  /** Customer-managed key of the log files and of the trail's log group. */
  readonly encryptionKey: kms.IKey;
  /** Buckets (names) whose object-level events are recorded. */
  readonly dataEventBuckets: readonly string[];
  /** Tables (ARNs) whose item-level events are recorded. */
  readonly dataEventTables: readonly string[];
  /** ARNs of Kinesis streams whose data events (GetRecords, PutRecords, ...) are recorded. @default none */
  readonly dataEventStreams?: readonly string[];
  /** Regions the delivery role's requests may target. */
  readonly allowedRegions: readonly string[];
  /**
   * Retention of the trail's CloudWatch Logs copy.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** ARN of a trail of the stack's account and region. */
export const trailArn = (stack: Stack, trailName: string): string =>
  `arn:${stack.partition}:cloudtrail:${stack.region}:${stack.account}:trail/${trailName}`;

/** Lets exactly this trail check the bucket's ACL and write its log files into it. */
export function allowCloudTrailDelivery(bucket: s3.IBucket, trail: string, account: string): void {
  const cloudTrail = new iam.ServicePrincipal('cloudtrail.amazonaws.com');
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudTrailAclCheck',
      principals: [cloudTrail],
      actions: ['s3:GetBucketAcl'],
      resources: [bucket.bucketArn],
      conditions: { StringEquals: { 'aws:SourceArn': trail } },
    }),
  );
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudTrailWrite',
      principals: [cloudTrail],
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects(`AWSLogs/${account}/*`)],
      conditions: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceArn': trail } },
    }),
  );
}

/**
 * A single-region trail of management events and of the data events (S3 objects, DynamoDB items)
 * of the given stores, with log file validation, KMS-encrypted log files, and a CloudWatch Logs
 * copy for alerting. Advanced event selectors scope the data events to exactly those stores.
 */
export class AuditTrail extends Construct {
  public readonly trail: cloudtrail.CfnTrail;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AuditTrailProps) {
    super(scope, id);
    const p = withDefaults(AUDIT_TRAIL_DEFAULTS, props);
    if (p.dataEventBuckets.length + p.dataEventTables.length === 0) {
      throw new Error(`${this.node.path}: an audit trail needs data event buckets or tables`);
    }
    const stack = Stack.of(this);
    const arn = trailArn(stack, p.trailName);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: p.logRetention,
      encryptionKey: p.encryptionKey,
      removalPolicy: p.removalPolicy,
    });
    const delivery = new PlatformRole(this, 'LogsDelivery', {
      description: `CloudTrail delivery of ${p.trailName} to CloudWatch Logs`,
      assumedBy: new iam.ServicePrincipal('cloudtrail.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceArn': arn },
      }),
      permissions: [
        {
          sid: 'DeliverTrailEvents',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [this.logGroup.logGroupArn],
        },
      ],
      allowedRegions: p.allowedRegions,
    });
    const data = (type: string, arnSelector: cloudtrail.CfnTrail.AdvancedFieldSelectorProperty) => ({
      name: `${type} data events`,
      fieldSelectors: [
        { field: 'eventCategory', equalTo: ['Data'] },
        { field: 'resources.type', equalTo: [type] },
        arnSelector,
      ],
    });
    const selectors: cloudtrail.CfnTrail.AdvancedEventSelectorProperty[] = [
      { name: 'Management events', fieldSelectors: [{ field: 'eventCategory', equalTo: ['Management'] }] },
    ];
    if (p.dataEventBuckets.length > 0) {
      const prefixes = p.dataEventBuckets.map((b) => `arn:${stack.partition}:s3:::${b}/`);
      selectors.push(data('AWS::S3::Object', { field: 'resources.ARN', startsWith: prefixes }));
    }
    if (p.dataEventTables.length > 0) {
      selectors.push(
        data('AWS::DynamoDB::Table', { field: 'resources.ARN', equalTo: [...p.dataEventTables] }),
      );
    }
    if ((p.dataEventStreams ?? []).length > 0) {
      selectors.push(
        data('AWS::Kinesis::Stream', { field: 'resources.ARN', equalTo: [...(p.dataEventStreams ?? [])] }),
      );
    }
    this.trail = new cloudtrail.CfnTrail(this, 'Trail', {
      trailName: p.trailName,
      isLogging: true,
      // IAM, STS and other global-service events are recorded in us-east-1 only (since 2021-11): a
      // trail of this region alone would miss every CreateRole, AttachRolePolicy or
      // UpdateAssumeRolePolicy, and anything done in another region. Multi-region, it still writes
      // to the one audit bucket, in this region, under this region's key.
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableLogFileValidation: true,
      s3BucketName: p.bucketName,
      kmsKeyId: p.encryptionKey.keyArn,
      cloudWatchLogsLogGroupArn: this.logGroup.logGroupArn,
      cloudWatchLogsRoleArn: delivery.role.roleArn,
      advancedEventSelectors: selectors,
    });
    this.trail.node.addDependency(delivery);
  }
}
