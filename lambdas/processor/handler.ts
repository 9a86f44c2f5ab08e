/**
 * Kinesis stream processor. Thin: decode Lambda's event, run the core, map its result to a
 * partial batch response. Nothing is caught here: an unexpected error fails the batch and the
 * event source mapping bisects and retries it, so no record is dropped.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { type ProcessorDeps, processBatch } from '../core/process-batch.js';
import { processorConfigSchema, readConfig } from '../shared/config.js';
import { createProcessorDeps } from './deps.js';
import { toInputRecord } from './kinesis-event.js';

const logger = new Logger({ serviceName: 'feature-processor' });
const metrics = new Metrics({ namespace: 'FeaturePlatform', serviceName: 'feature-processor' });

/** A processor handler over the given adapters (created on first use); `handler` below is the deployed one. */
export function createHandler(
  makeDeps: () => ProcessorDeps,
): (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse> {
  let deps: ProcessorDeps | undefined;
  return async (event) => {
    deps ??= makeDeps();
    return handle(event, deps);
  };
}

/** The deployed handler: adapters configured from the function's environment. */
export const handler = createHandler(() =>
  createProcessorDeps(readConfig(processorConfigSchema, process.env)),
);

async function handle(event: KinesisStreamEvent, deps: ProcessorDeps): Promise<KinesisStreamBatchResponse> {
  const result = await processBatch(event.Records.map(toInputRecord), deps);

  const { applied, duplicate, quarantined, late } = result.counts;
  metrics.addMetric('RecordsApplied', MetricUnit.Count, applied);
  metrics.addMetric('RecordsDuplicate', MetricUnit.Count, duplicate);
  metrics.addMetric('RecordsQuarantined', MetricUnit.Count, quarantined);
  metrics.addMetric('RecordsLate', MetricUnit.Count, late);
  metrics.addMetric('RecordsFailed', MetricUnit.Count, result.failed.length);
  metrics.publishStoredMetrics();
  const summary = {
    records: event.Records.length,
    applied,
    duplicate,
    quarantined,
    late,
    failed: result.failed.length,
  };
  if (result.failed.length > 0) {
    logger.warn('batch partly failed; redelivery from the first failed record', {
      ...summary,
      firstFailed: result.failed[0],
      errors: result.errors.slice(0, 5).map((e) => `${e.name}: ${e.message}`),
    });
  } else {
    logger.info('batch processed', summary);
  }
  return { batchItemFailures: result.failed.map((itemIdentifier) => ({ itemIdentifier })) };
}
