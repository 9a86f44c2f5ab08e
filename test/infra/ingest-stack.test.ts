import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { PROCESSOR_METRICS } from '../../lambdas/shared/metrics.js';
import {
  HANDLER_ENTRIES,
  ON_FAILURE_METRICS_FILTER_ID,
  processorEnvironment,
  REPO_ROOT,
  STREAM_SOURCE_DEFAULTS,
} from '../../lib/platform-spec.js';
import { logicalId, pick, synthesizeAll } from './platform-fixture.js';
import { allowedActionsOn } from './policy-statements.js';

const all = synthesizeAll();
/** An ARN exported by the data stack and imported here. */
const imported = (stack: Stack, construct: IConstruct) => ({
  'Fn::ImportValue': Match.stringLikeRegexp(`${logicalId(stack, construct)}Arn`),
});

describe.each(['dev', 'staging', 'prod'] as const)('ingest stack (%s)', (name) => {
  const { deployment, ingest: template } = pick(all, name);
  const { names, data, ingest, environment } = deployment;
  const processorRole = 'ProcessorExecutionRole';

  it('encrypts the stream with the PII key (its events carry PII) and sizes it from the environment', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      Name: names.stream,
      ShardCount: environment.shardCount,
      RetentionPeriodHours: environment.retentionHours,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: imported(data, data.keys.pii) },
    });
  });

  it('maps the stream to the processor without ever losing a record', () => {
    const s = STREAM_SOURCE_DEFAULTS;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(ingest, ingest.stream), 'Arn'] },
      FunctionName: { Ref: logicalId(ingest, ingest.processor.function) },
      BatchSize: s.batchSize,
      MaximumBatchingWindowInSeconds: s.maxBatchingWindowMs / 1000,
      BisectBatchOnFunctionError: s.bisectBatchOnError,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: s.retryAttempts,
      MaximumRecordAgeInSeconds: s.maxRecordAgeSeconds,
      ParallelizationFactor: s.parallelizationFactor,
      StartingPosition: s.startingPosition,
      DestinationConfig: { OnFailure: { Destination: imported(data, data.sideOutputBucket) } },
    });
  });

  it('bundles exactly the processor handler file the local platform imports', () => {
    expect(ingest.processor.entry).toBe(path.join(REPO_ROOT, HANDLER_ENTRIES.processor));
    expect(existsSync(ingest.processor.entry)).toBe(true);
  });

  it('runs the processor on Node.js 22, arm64, traced, with the spec environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: `fp-${name}-processor`,
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          // The environment's item layout (1 unless cdk.json raises it), not the local runs' newest.
          ...processorEnvironment(names, environment.entityItemLayout, environment.retentionHours),
          POWERTOOLS_SERVICE_NAME: Match.anyValue(),
        }),
      },
    });
  });

  it('keeps the processor logs for the environment retention', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: `/aws/lambda/fp-${name}-processor`,
      RetentionInDays: environment.logRetentionDays,
    });
  });

  it('lets the processor read the stream', () => {
    expect(allowedActionsOn(template, processorRole, `stream/${names.stream}`)).toEqual(
      expect.arrayContaining([
        'kinesis:GetRecords',
        'kinesis:GetShardIterator',
        'kinesis:DescribeStreamSummary',
      ]),
    );
  });

  it.each([['online', () => names.onlineTable]])(
    'lets the processor read and conditionally write the %s table',
    (_, table) => {
      expect(allowedActionsOn(template, processorRole, `table/${table()}`)).toEqual(
        expect.arrayContaining([
          'dynamodb:GetItem',
          'dynamodb:UpdateItem',
          'dynamodb:PutItem',
          'dynamodb:ConditionCheckItem',
        ]),
      );
    },
  );

  it.each([
    ['offline', () => names.offlineBucket],
    ['side-output', () => names.sideOutputBucket],
  ])('lets the processor write objects to the %s bucket and use the key', (_, bucket) => {
    expect(allowedActionsOn(template, processorRole, `${bucket()}/*`)).toEqual(['s3:PutObject']);
    expect(allowedActionsOn(template, processorRole, logicalId(data, data.keys.pii))).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']),
    );
  });

  it('alarms to the alarm topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(9); // the processor's 8 and the retention function's errors
    for (const alarm of alarms) {
      expect(JSON.stringify(alarm.Properties.AlarmActions)).toContain(logicalId(data, data.alarmTopic));
    }
  });

  it('alarms when the stream consumer falls a minute behind', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Kinesis',
      MetricName: 'GetRecords.IteratorAgeMilliseconds',
      Dimensions: [{ Name: 'StreamName', Value: { Ref: logicalId(ingest, ingest.stream) } }],
      Statistic: 'Maximum',
      Threshold: 60_000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it("alarms when the processor's own iterator age passes a minute (a shard stuck on a failing batch)", () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(ingest, ingest.processor.function) } }],
      Statistic: 'Maximum',
      Threshold: 60_000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('alarms on any record the processor did not complete, which a partial batch response hides from Errors', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: PROCESSOR_METRICS.namespace,
      MetricName: 'RecordsFailed',
      Dimensions: [{ Name: 'service', Value: PROCESSOR_METRICS.service }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('alarms on any record the processor parked (an entity it feeds cannot be written)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: PROCESSOR_METRICS.namespace,
      MetricName: 'RecordsParked',
      Dimensions: [{ Name: 'service', Value: PROCESSOR_METRICS.service }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('alarms on any offline object the processor parked (the offline bucket refused it near the age limit)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: PROCESSOR_METRICS.namespace,
      MetricName: 'OfflineObjectsParked',
      Dimensions: [{ Name: 'service', Value: PROCESSOR_METRICS.service }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [Match.anyValue()],
    });
  });

  it('alarms on any batch the mapping gave up: a put to the on-failure prefix, counted by its request-metrics filter', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/S3',
      MetricName: 'PutRequests',
      Dimensions: Match.arrayWith([
        { Name: 'BucketName', Value: Match.anyValue() },
        { Name: 'FilterId', Value: ON_FAILURE_METRICS_FILTER_ID },
      ]),
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [Match.anyValue()],
    });
    const alarm = Object.values(
      template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'PutRequests' } }),
    )[0];
    // The side-output bucket's name, as the data stack exports it: the bucket the mapping writes to.
    expect(JSON.stringify(alarm?.Properties.Dimensions)).toContain(logicalId(data, data.sideOutputBucket));
  });

  it('alarms on any batch the mapping gave up and could not write to its on-failure bucket (records lost but for the stream)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'DestinationDeliveryFailures',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(ingest, ingest.processor.function) } }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [Match.anyValue()],
    });
  });

  it('retries a failing batch until its records reach the maximum age, not a fixed number of times', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MaximumRetryAttempts: -1,
      MaximumRecordAgeInSeconds: 23 * 3600,
      BisectBatchOnFunctionError: true,
    });
  });

  it('alarms on any processor error', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(ingest, ingest.processor.function) } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('gives the processor 5 minutes, room for a batch whose AWS calls all time out to end with its records failed rather than time out', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: names.processorFunction,
      Timeout: 300,
    });
  });

  it('deletes offline partitions past the retention daily, with list and delete rights on the datasets only', () => {
    const fn = ingest.retention.function;
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: `${names.prefix}-offline-retention`,
      ReservedConcurrentExecutions: 1,
      Timeout: 900,
      Environment: {
        Variables: {
          OFFLINE_BUCKET: names.offlineBucket,
          OFFLINE_RETENTION_DAYS: String(environment.offlineRetentionDays),
        },
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(30 2 * * ? *)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(ingest, fn), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 2 },
        }),
      ],
    });
    const actions = (resource: string) =>
      allowedActionsOn(template, 'OfflineRetentionExecutionRole', resource);
    expect(actions(`${names.offlineBucket}/features/*`)).toEqual(['s3:DeleteObject']);
    expect(actions(`${names.offlineBucket}/events/*`)).toEqual(['s3:DeleteObject']);
    expect(actions(`${names.offlineBucket}"`)).toEqual(['s3:ListBucket']);
    expect(actions(`${names.offlineBucket}/audit`)).toEqual([]);
    expect(actions(names.sideOutputBucket)).toEqual([]);
  });

  it('tags the stream with the most sensitive classification its events carry', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      Tags: Match.arrayWith([{ Key: 'data-classification', Value: 'pii' }]),
    });
  });
});
