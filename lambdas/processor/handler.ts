/**
 * Kinesis stream processor. Thin: decode Lambda's event, run the core, map its result to a
 * partial batch response. Nothing is caught here: an unexpected error fails the batch and the
 * event source mapping bisects and retries it, so no record is dropped.
 *
 * A batch whose very first record did not complete fails as a whole (the handler throws) instead of
 * reporting item failures. Lambda retries a partial response from the first failed record, always
 * the same one, and bisects only on a function error: a record that can never complete (an entity
 * DynamoDB keeps refusing) would otherwise take every later record of its batch, of any entity, to
 * the on-failure destination with it after the retries. Thrown, the batch is split until that record
 * is alone; the healthy halves complete (a retry of what completed is a no-op).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { type ProcessorDeps, processBatch } from '../core/process-batch.js';
import { processorConfigSchema, readConfig } from '../shared/config.js';
import { InvocationDeadline } from '../shared/deadline.js';
import { PROCESSOR_METRICS } from '../shared/metrics.js';
import { createProcessorDeps } from './deps.js';
import { toInputRecord } from './kinesis-event.js';

const logger = new Logger({ serviceName: PROCESSOR_METRICS.service });
const metrics = new Metrics({
  namespace: PROCESSOR_METRICS.namespace,
  serviceName: PROCESSOR_METRICS.service,
});

/**
 * A processor handler over the given adapters (created on first use); `handler` below is the deployed
 * one. `deadline` tells the adapters how much of each invocation is left (from its context), so that
 * their AWS calls stop in time for the batch to end with its failures reported and its old records
 * parked, not by a timeout (shared/deadline.ts).
 */
export function createHandler(
  makeDeps: (deadline: InvocationDeadline) => ProcessorDeps,
): (
  event: KinesisStreamEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<KinesisStreamBatchResponse> {
  let deps: ProcessorDeps | undefined;
  const deadline = new InvocationDeadline();
  return async (event, context) => {
    deadline.begin(context);
    deps ??= makeDeps(deadline);
    return handle(event, deps);
  };
}

/** The deployed handler: adapters configured from the function's environment. */
export const handler = createHandler((deadline) =>
  createProcessorDeps(readConfig(processorConfigSchema, process.env), deadline),
);

async function handle(event: KinesisStreamEvent, deps: ProcessorDeps): Promise<KinesisStreamBatchResponse> {
  const records = event.Records.map(toInputRecord);
  const result = await processBatch(records, deps);

  const { applied, duplicate, quarantined, late } = result.counts;
  metrics.addMetric('RecordsApplied', MetricUnit.Count, applied);
  metrics.addMetric('RecordsDuplicate', MetricUnit.Count, duplicate);
  metrics.addMetric('RecordsQuarantined', MetricUnit.Count, quarantined);
  metrics.addMetric('RecordsLate', MetricUnit.Count, late);
  metrics.addMetric('RecordsFailed', MetricUnit.Count, result.failed.length);
  metrics.addMetric('RecordsParked', MetricUnit.Count, result.parked);
  metrics.addMetric('OfflineObjectsParked', MetricUnit.Count, result.rowsParked);
  metrics.publishStoredMetrics();
  const summary = {
    records: event.Records.length,
    applied,
    duplicate,
    quarantined,
    late,
    failed: result.failed.length,
    parked: result.parked,
    offlineObjectsParked: result.rowsParked,
  };
  if (result.parked > 0) {
    // Each is in the side-output bucket under parked/ with its reason; `npm run redrive` finishes them.
    logger.error('records parked: an entity they feed cannot be written, or they were too old to decide', {
      parked: result.parked,
      errors: result.parkErrors.slice(0, 5).map((e) => `${e.name}: ${e.message}`),
    });
  }
  if (result.rowsParked > 0) {
    // In the side-output bucket under parked-rows/; `npm run redrive` puts them in the offline bucket.
    logger.error(
      'offline objects parked: the offline bucket refused them as their records neared the age limit',
      {
        offlineObjectsParked: result.rowsParked,
        errors: result.errors.slice(0, 5).map((e) => `${e.name}: ${e.message}`),
      },
    );
  }
  if (result.failed.length === 0) {
    logger.info('batch processed', summary);
    return { batchItemFailures: [] };
  }
  const errors = result.errors.slice(0, 5).map((e) => `${e.name}: ${e.message}`);
  // Where the failures are: should the mapping give them up and fail to write them to its on-failure
  // bucket, these name the window to redrive from the stream (docs/operations.md, LostRecordsAlarm).
  const first = records.find((r) => r.sequenceNumber === result.failed[0]);
  const where = {
    shardId: first?.shardId,
    firstFailed: result.failed[0],
    lastFailed: result.failed.at(-1),
    firstFailedArrivedAt: first ? new Date(first.arrivalTime).toISOString() : undefined,
  };
  // Everything from the first failed record on is failed: all of them, when it was the first.
  if (result.failed.length === event.Records.length) {
    logger.error('batch failed from its first record; failing it whole so that it is bisected', {
      ...summary,
      ...where,
      errors,
    });
    throw new BatchFailedError(`no record of the batch completed (${summary.failed} failed): ${errors[0]}`);
  }
  logger.warn('batch partly failed; redelivery from the first failed record', {
    ...summary,
    ...where,
    errors,
  });
  return { batchItemFailures: result.failed.map((itemIdentifier) => ({ itemIdentifier })) };
}

/** Thrown when not even the first record of a batch completed: the event source mapping bisects it. */
export class BatchFailedError extends Error {
  override readonly name = 'BatchFailedError';
}
