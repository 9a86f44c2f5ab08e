import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CfnResource, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import {
  HANDLER_ENTRIES,
  processorEnvironment,
  REPO_ROOT,
  STREAM_SOURCE_DEFAULTS,
} from '../../lib/platform-spec.js';
import { pick, synthesizeAll } from './platform-fixture.js';
import { allowedActionsOn } from './policy-statements.js';

const all = synthesizeAll();
const logicalId = (stack: Stack, construct: IConstruct) =>
  stack.getLogicalId(construct.node.defaultChild as CfnResource);
/** An ARN exported by the data stack and imported here. */
const imported = (stack: Stack, construct: IConstruct) => ({
  'Fn::ImportValue': Match.stringLikeRegexp(`${logicalId(stack, construct)}Arn`),
});

describe.each(['dev', 'staging', 'prod'] as const)('ingest stack (%s)', (name) => {
  const { deployment, ingest: template } = pick(all, name);
  const { names, data, ingest, environment } = deployment;
  const processorRole = 'ProcessorFunctionServiceRole';

  it('encrypts the stream with the data key and sizes it from the environment', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      Name: names.stream,
      ShardCount: environment.shardCount,
      RetentionPeriodHours: environment.retentionHours,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: imported(data, data.dataKey) },
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
          ...processorEnvironment(names),
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
    expect(allowedActionsOn(template, processorRole, logicalId(ingest, ingest.stream))).toEqual(
      expect.arrayContaining([
        'kinesis:GetRecords',
        'kinesis:GetShardIterator',
        'kinesis:DescribeStreamSummary',
      ]),
    );
  });

  it.each([['online', () => data.onlineTable]])(
    'lets the processor read and conditionally write the %s table',
    (_, table) => {
      expect(allowedActionsOn(template, processorRole, logicalId(data, table()))).toEqual(
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
    ['offline', () => data.offlineBucket],
    ['side-output', () => data.sideOutputBucket],
  ])('lets the processor write objects to the %s bucket and use the key', (_, bucket) => {
    expect(allowedActionsOn(template, processorRole, logicalId(data, bucket()))).toContain('s3:PutObject');
    expect(allowedActionsOn(template, processorRole, logicalId(data, data.dataKey))).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
    );
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

  it('alarms on any processor error', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(ingest, ingest.processor.function) } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('tags the stream with the most sensitive classification its events carry', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      Tags: Match.arrayWith([{ Key: 'data-classification', Value: 'pii' }]),
    });
  });
});
