import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { AuditTrail } from './constructs/audit-trail.js';
import { type Environment, removalPolicyOf } from './environments.js';
import { arns, type PlatformResources } from './permissions.js';

export interface AuditStackProps extends StackProps {
  /** The environment deployed. */
  readonly environment: Environment;
  /** Names of the stores whose data events are recorded and of the audit bucket. */
  readonly resources: PlatformResources;
  /** Key of the log files and of the trail's log group (the general key). */
  readonly encryptionKey: kms.IKey;
}

/**
 * The audit trail: management events of every region (global services' are recorded in us-east-1
 * only), and the data events of every store holding features or records (the stream; offline,
 * side-output and query-result objects; online store items). The audit bucket
 * itself is left out: logging CloudTrail's own writes would feed back into the trail.
 */
export class AuditStack extends Stack {
  public readonly trail: AuditTrail;

  constructor(scope: Construct, id: string, props: AuditStackProps) {
    super(scope, id, props);
    const { environment, resources } = props;
    const { names } = resources;
    this.trail = new AuditTrail(this, 'Trail', {
      trailName: names.trail,
      bucketName: names.auditBucket,
      encryptionKey: props.encryptionKey,
      dataEventBuckets: [names.offlineBucket, names.sideOutputBucket, names.queryResultsBucket],
      dataEventTables: [arns(resources).onlineTable],
      // The stream carries events before tokenization (PII in clear, for its retention).
      dataEventStreams: [arns(resources).stream],
      allowedRegions: environment.allowedRegions,
      logRetention: environment.logRetentionDays,
      removalPolicy: removalPolicyOf(environment),
    });
  }
}
