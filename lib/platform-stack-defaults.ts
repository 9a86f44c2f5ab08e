import { Duration } from 'aws-cdk-lib';
import { PROCESSOR_TIMEOUT_SECONDS } from './platform-spec.js';

/** Sizes and lifecycles the stacks give their resources, as data. */
export const PLATFORM_STACK_DEFAULTS = {
  /** Feature history moves to Intelligent-Tiering after this many days. */
  offlineTieringAfterDays: 30,
  /** Quarantined, late and failed records are kept this long for replay and audit. */
  sideOutputExpirationDays: 90,
  /**
   * Lambda's own on-failure records (`aws/lambda/` of the side-output bucket) carry the batch's raw
   * payloads, PII included, which the platform cannot seal as it seals its own side outputs: they
   * are kept only long enough to replay a failure (data minimisation).
   */
  onFailureRecordExpirationDays: 14,
  /** Athena query results are kept this long (re-run the query for older ones). */
  queryResultExpirationDays: 30,
  /** A scheduled deletion of a data key can be cancelled within this window. */
  keyPendingWindow: Duration.days(30),
  /** Timeout: lib/platform-spec.ts `PROCESSOR_TIMEOUT_SECONDS`. */
  processor: { memorySize: 1024, timeout: Duration.seconds(PROCESSOR_TIMEOUT_SECONDS) },
  lookup: { memorySize: 512, timeout: Duration.seconds(10) },
  /**
   * Processor concurrency reserved per shard and parallelization lane: 2 leaves room for the
   * child shards of a split, which Lambda reads while the parent's last batches finish.
   */
  processorConcurrencyPerShardLane: 2,
  /** Athena stops a query that would scan more than this (cost guard for a mistaken query). */
  athenaBytesScannedCutoffPerQuery: 100 * 1024 ** 3,
} as const;
