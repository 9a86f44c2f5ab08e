import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { groupsNeedingShardOrder } from '../schemas/index.js';
import { PlatformFunction } from './constructs/platform-function.js';
import { StreamEventSource } from './constructs/stream-event-source.js';
import { type Environment, removalPolicyOf } from './environments.js';
import { processorEnvironment, type ResourceNames } from './platform-spec.js';
import { PLATFORM_STACK_DEFAULTS as D } from './platform-stack-defaults.js';

export interface IngestStackProps extends StackProps {
  /** The environment deployed. */
  readonly environment: Environment;
  /** Physical names (`resourceNames(prefix, ...)`). */
  readonly names: ResourceNames;
  /** Key the stream is encrypted with (the data stack's). */
  readonly dataKey: kms.IKey;
  readonly onlineTable: dynamodb.ITable;
  readonly offlineBucket: s3.IBucket;
  /** Receives quarantined and late records, and the event source mapping's failed batches. */
  readonly sideOutputBucket: s3.IBucket;
}

/** The write path: the Kinesis stream and the processor that turns events into features. */
export class IngestStack extends Stack {
  public readonly stream: kinesis.Stream;
  public readonly processor: PlatformFunction;
  public readonly streamSource: StreamEventSource;

  constructor(scope: Construct, id: string, props: IngestStackProps) {
    super(scope, id, props);
    const { environment, names } = props;
    const removalPolicy = removalPolicyOf(environment);
    const retentionPeriod = Duration.hours(environment.retentionHours);

    this.stream = new kinesis.Stream(this, 'Stream', {
      streamName: names.stream,
      streamMode: kinesis.StreamMode.PROVISIONED,
      shardCount: environment.shardCount,
      retentionPeriod,
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: props.dataKey,
      removalPolicy,
    });

    this.processor = new PlatformFunction(this, 'Processor', {
      handler: 'processor',
      functionName: names.processorFunction,
      environment: processorEnvironment(names),
      ...D.processor,
      logRetention: environment.logRetentionDays,
      removalPolicy,
    });

    this.streamSource = new StreamEventSource(this, 'StreamSource', {
      stream: this.stream,
      streamRetention: retentionPeriod,
      target: this.processor.function,
      onFailureBucket: props.sideOutputBucket,
      groupsNeedingShardOrder: groupsNeedingShardOrder(),
    });

    props.onlineTable.grantReadWriteData(this.processor);
    props.offlineBucket.grantPut(this.processor);
    props.sideOutputBucket.grantPut(this.processor);
    props.dataKey.grantEncryptDecrypt(this.processor);
  }
}
