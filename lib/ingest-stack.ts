import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { groupsNeedingShardOrder } from '../schemas/index.js';
import { offlineRetentionPermissions, processorPermissions } from './access-permissions.js';
import { acknowledge } from './compliance.js';
import { PlatformFunction } from './constructs/platform-function.js';
import { StreamEventSource } from './constructs/stream-event-source.js';
import { offlineObjectKeyClasses } from './data-classification.js';
import { type Environment, removalPolicyOf } from './environments.js';
import type { PlatformResources } from './permissions.js';
import { deployedProcessorEnvironment, STREAM_SOURCE_DEFAULTS } from './platform-spec.js';
import { PLATFORM_STACK_DEFAULTS as D } from './platform-stack-defaults.js';

export interface IngestStackProps extends StackProps {
  /** The environment deployed. */
  readonly environment: Environment;
  /** Names, keys and classifications the processor's permissions are written against. */
  readonly resources: PlatformResources;
  /** Key the stream is encrypted with (the key of the contracts' classification). */
  readonly streamKey: kms.IKey;
  /** Key of the processor's log group. */
  readonly logKey: kms.IKey;
  /** Receives the event source mapping's failed batches (with their records). */
  readonly sideOutputBucket: s3.IBucket;
  /** Where the pipeline's alarms notify. */
  readonly alarmAction: cloudwatch.IAlarmAction;
}

/** The write path: the Kinesis stream and the processor that turns events into features. */
export class IngestStack extends Stack {
  public readonly stream: kinesis.Stream;
  public readonly processor: PlatformFunction;
  public readonly streamSource: StreamEventSource;
  /** Deletes offline partitions past `offlineRetentionDays`, daily. */
  public readonly retention: PlatformFunction;

  constructor(scope: Construct, id: string, props: IngestStackProps) {
    super(scope, id, props);
    const { environment, resources } = props;
    const { names } = resources;
    const removalPolicy = removalPolicyOf(environment);
    const retentionPeriod = Duration.hours(environment.retentionHours);

    this.stream = new kinesis.Stream(this, 'Stream', {
      streamName: names.stream,
      streamMode: kinesis.StreamMode.PROVISIONED,
      shardCount: environment.shardCount,
      retentionPeriod,
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: props.streamKey,
      removalPolicy,
    });
    acknowledge(
      this.stream,
      'AwsSolutions-KDS3',
      'The stream is encrypted with the customer-managed PII key instead of the AWS-managed aws/kinesis key on ' +
        'purpose: the buyer controls the key, its rotation and a policy limited to kms:ViaService kinesis, which ' +
        'an AWS-managed key cannot give.',
    );

    this.processor = new PlatformFunction(this, 'Processor', {
      handler: 'processor',
      functionName: names.processorFunction,
      // The PII key's policy names this role for direct data-key use (lib/data-stack.ts).
      roleName: names.processorRole,
      environment: deployedProcessorEnvironment(
        names,
        {
          piiTokenSecretArn: resources.piiTokenSecretArn,
          piiKmsKeyArn: resources.keys.pii,
          generalKmsKeyArn: resources.keys.general,
          offlineObjectKeys: offlineObjectKeyClasses(resources.stores),
        },
        environment.entityItemLayout,
        environment.retentionHours,
      ),
      ...D.processor,
      reservedConcurrentExecutions:
        environment.shardCount *
        STREAM_SOURCE_DEFAULTS.parallelizationFactor *
        D.processorConcurrencyPerShardLane,
      permissions: processorPermissions(resources),
      allowedRegions: environment.allowedRegions,
      logRetention: environment.logRetentionDays,
      logEncryptionKey: props.logKey,
      alarmAction: props.alarmAction,
      removalPolicy,
    });
    acknowledge(
      this.processor.function,
      'NIST.800.53.R5-LambdaDLQ',
      'Only the Kinesis event source mapping invokes the processor; a DLQ serves asynchronous invocations. Failed ' +
        'batches are bisected and retried until their records reach the maximum record age, then written with ' +
        'their records to the S3 on-failure destination (side-output bucket); records an entity cannot take are ' +
        'parked by the processor in the same bucket. Nothing is dropped.',
    );

    this.streamSource = new StreamEventSource(this, 'StreamSource', {
      stream: this.stream,
      streamRetention: retentionPeriod,
      target: this.processor.function,
      onFailureBucket: props.sideOutputBucket,
      groupsNeedingShardOrder: groupsNeedingShardOrder(),
      alarmAction: props.alarmAction,
    });

    // Offline retention by partition date (lambdas/retention/handler.ts), daily.
    this.retention = new PlatformFunction(this, 'OfflineRetention', {
      handler: 'retention',
      functionName: `${names.prefix}-offline-retention`,
      environment: {
        OFFLINE_BUCKET: names.offlineBucket,
        OFFLINE_RETENTION_DAYS: String(environment.offlineRetentionDays),
      },
      memorySize: 512,
      timeout: Duration.minutes(15),
      reservedConcurrentExecutions: 1,
      permissions: offlineRetentionPermissions(resources),
      allowedRegions: environment.allowedRegions,
      logRetention: environment.logRetentionDays,
      logEncryptionKey: props.logKey,
      alarmAction: props.alarmAction,
      removalPolicy,
    });
    new events.Rule(this, 'OfflineRetentionSchedule', {
      description: 'Deletes offline partitions past the retention period, daily',
      schedule: events.Schedule.cron({ hour: '2', minute: '30' }),
      targets: [new targets.LambdaFunction(this.retention.function, { retryAttempts: 2 })],
    });
    acknowledge(
      this.retention.function,
      'NIST.800.53.R5-LambdaDLQ',
      'A daily schedule invokes it asynchronously: Lambda retries a failed run twice, a failure raises the errors ' +
        'alarm, and the next run deletes whatever is due then (idempotent): a dead-letter queue would hold nothing to replay.',
    );
  }
}
