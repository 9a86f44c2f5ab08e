import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PROCESSOR_METRICS } from '../../lambdas/shared/metrics.js';
import {
  assertParallelizationSafe,
  ON_FAILURE_METRICS_FILTER_ID,
  type StreamSourceSettings,
} from '../platform-spec.js';
import { STREAM_EVENT_SOURCE_DEFAULTS } from './stream-event-source-defaults.js';
import { withDefaults } from './with-defaults.js';

export interface StreamEventSourceProps {
  /** Stream the function consumes. */
  readonly stream: kinesis.IStream;
  /** How long the stream keeps records; a record may not be retried past it. */
  readonly streamRetention: Duration;
  /** Function invoked with the batches. */
  readonly target: lambda.IFunction;
  /**
   * Bucket that receives the records of batches that exhausted their retries or age. The alarm on
   * given-up batches counts its puts under the S3 request-metrics filter `ON_FAILURE_METRICS_FILTER_ID`
   * (lib/platform-spec.ts), which the bucket must define on the destination's prefix.
   */
  readonly onFailureBucket: s3.IBucket;
  /**
   * Event source mapping settings.
   * @default STREAM_SOURCE_DEFAULTS (lib/platform-spec.ts)
   */
  readonly settings?: StreamSourceSettings;
  /**
   * Feature groups that need each shard's records in order (see `groupsNeedingShardOrder` in schemas/);
   * while any exist, a parallelization factor above 1 is refused.
   * @default []
   */
  readonly groupsNeedingShardOrder?: readonly string[];
  /**
   * Maximum GetRecords iterator age that raises the alarm.
   * @default Duration.seconds(60)
   */
  readonly iteratorAgeAlarmThreshold?: Duration;
  /**
   * Consecutive one-minute periods above the threshold before the alarm fires.
   * @default 5
   */
  readonly iteratorAgeAlarmEvaluationPeriods?: number;
  /**
   * Where the alarms notify.
   * @default - no action
   */
  readonly alarmAction?: cloudwatch.IAlarmAction;
}

/** How much longer than the maximum record age the stream keeps a record. */
const RECORD_AGE_MARGIN_S = 3600;

/**
 * A Kinesis event source mapping that never loses a record: bisect on error, per-record batch
 * item failures, bounded retries and record age, failed batches kept in S3; plus alarms on how far
 * the consumer is behind (the stream's and the function's iterator age) and on records the
 * processor did not complete. A partial failure is a successful invocation, so the function's
 * `Errors` alarm never sees it, and records the mapping gives up on after its retries would
 * otherwise reach the on-failure bucket unnoticed.
 */
export class StreamEventSource extends Construct {
  public readonly eventSource: sources.KinesisEventSource;
  public readonly iteratorAgeAlarm: cloudwatch.Alarm;
  public readonly functionIteratorAgeAlarm: cloudwatch.Alarm;
  public readonly failedRecordsAlarm: cloudwatch.Alarm;
  /** Any record parked (lambdas/core/process-batch.ts, step 7). */
  public readonly parkedRecordsAlarm: cloudwatch.Alarm;
  /** Offline objects the processor parked (the offline bucket refused them as their records neared the age limit). */
  public readonly parkedRowsAlarm: cloudwatch.Alarm;
  /**
   * Batches the mapping gave up to the on-failure bucket: applied nowhere, or not everywhere, until
   * `npm run redrive`. The failures before it had their alarm, which clears once the batch is given up.
   */
  public readonly givenUpRecordsAlarm: cloudwatch.Alarm;
  /**
   * Batches the mapping gave up and could not write to the on-failure bucket (`DestinationDeliveryFailures`):
   * the records are nowhere but in the stream, for the hour its retention has past the maximum age.
   */
  public readonly lostRecordsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: StreamEventSourceProps) {
    super(scope, id);
    const p = withDefaults(STREAM_EVENT_SOURCE_DEFAULTS, props);
    const s = p.settings;
    // A record given up at its maximum age is read once more, for the on-failure bucket: it must still
    // be in the stream then, with time to spare (at equal ages the stream trims it as it is given up).
    const latest = p.streamRetention.toSeconds() - RECORD_AGE_MARGIN_S;
    if (s.maxRecordAgeSeconds > latest) {
      throw new Error(
        `${this.node.path}: maxRecordAgeSeconds (${s.maxRecordAgeSeconds}) must be at least ${RECORD_AGE_MARGIN_S} s ` +
          `under the stream retention (${p.streamRetention.toSeconds()} s); records would expire before reaching the on-failure bucket`,
      );
    }
    try {
      assertParallelizationSafe(s.parallelizationFactor, props.groupsNeedingShardOrder ?? []);
    } catch (error) {
      throw new Error(`${this.node.path}: ${(error as Error).message}`);
    }
    if (s.maxBatchingWindowMs % 1000 !== 0) {
      throw new Error(
        `${this.node.path}: maxBatchingWindowMs (${s.maxBatchingWindowMs}) must be whole seconds for a Kinesis event source mapping`,
      );
    }
    this.eventSource = new sources.KinesisEventSource(p.stream, {
      startingPosition: lambda.StartingPosition[s.startingPosition],
      batchSize: s.batchSize,
      maxBatchingWindow: Duration.millis(s.maxBatchingWindowMs),
      bisectBatchOnError: s.bisectBatchOnError,
      retryAttempts: s.retryAttempts,
      maxRecordAge: Duration.seconds(s.maxRecordAgeSeconds),
      parallelizationFactor: s.parallelizationFactor,
      reportBatchItemFailures: true,
      onFailure: new sources.S3OnFailureDestination(p.onFailureBucket),
    });
    p.target.addEventSource(this.eventSource);
    const behind = (id: string, alarmDescription: string, metric: cloudwatch.IMetric) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription,
        metric,
        threshold: p.iteratorAgeAlarmThreshold.toMilliseconds(),
        evaluationPeriods: p.iteratorAgeAlarmEvaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.iteratorAgeAlarm = behind(
      'IteratorAgeAlarm',
      'Stream consumer is behind: GetRecords iterator age above threshold',
      p.stream.metricGetRecordsIteratorAgeMilliseconds({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
    );
    // The function's own iterator age: a shard whose batch keeps failing may be polled rarely, and
    // the stream's GetRecords metric can then have no data points.
    this.functionIteratorAgeAlarm = behind(
      'FunctionIteratorAgeAlarm',
      'Processor is behind: age of the records it is given above threshold',
      new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName: 'IteratorAge',
        dimensionsMap: { FunctionName: p.target.functionName },
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
    );
    const anyCount = (id: string, alarmDescription: string, metric: cloudwatch.IMetric) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const anyRecord = (id: string, alarmDescription: string, metricName: string) =>
      anyCount(
        id,
        alarmDescription,
        new cloudwatch.Metric({
          namespace: PROCESSOR_METRICS.namespace,
          metricName,
          dimensionsMap: { service: PROCESSOR_METRICS.service },
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.SUM,
        }),
      );
    this.failedRecordsAlarm = anyRecord(
      'FailedRecordsAlarm',
      'Processor records did not complete (redelivered until they succeed or reach the maximum record age, ' +
        'when the mapping gives them up to the on-failure bucket): see the processor log for the errors',
      'RecordsFailed',
    );
    this.parkedRecordsAlarm = anyRecord(
      'ParkedRecordsAlarm',
      'Processor parked records: an entity they feed cannot be written (see the processor log and parked/ in ' +
        'the side-output bucket); once fixed, npm run redrive finishes them',
      'RecordsParked',
    );
    this.parkedRowsAlarm = anyRecord(
      'ParkedRowsAlarm',
      'Processor parked offline objects: the offline bucket refused them as their records neared the maximum ' +
        'record age (see the processor log and parked-rows/ in the side-output bucket); once fixed, npm run ' +
        'redrive puts them in place',
      'OfflineObjectsParked',
    );
    this.givenUpRecordsAlarm = anyCount(
      'GivenUpRecordsAlarm',
      'The event source mapping gave up a batch at the maximum record age: its records are in aws/lambda/ of the ' +
        'side-output bucket, not applied (or not everywhere) until npm run redrive sends them back',
      new cloudwatch.Metric({
        namespace: 'AWS/S3',
        metricName: 'PutRequests',
        dimensionsMap: { BucketName: p.onFailureBucket.bucketName, FilterId: ON_FAILURE_METRICS_FILTER_ID },
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.SUM,
      }),
    );
    this.lostRecordsAlarm = anyCount(
      'LostRecordsAlarm',
      'The event source mapping gave up a batch and could not write it to the on-failure bucket: its records are ' +
        'only in the stream, until its retention ends an hour after the maximum record age; raise the retention at ' +
        'once and redrive them from the stream (runbook)',
      new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName: 'DestinationDeliveryFailures',
        dimensionsMap: { FunctionName: p.target.functionName },
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.SUM,
      }),
    );
    if (p.alarmAction)
      for (const alarm of [
        this.iteratorAgeAlarm,
        this.functionIteratorAgeAlarm,
        this.failedRecordsAlarm,
        this.parkedRecordsAlarm,
        this.parkedRowsAlarm,
        this.givenUpRecordsAlarm,
        this.lostRecordsAlarm,
      ])
        alarm.addAlarmAction(p.alarmAction);
  }
}
