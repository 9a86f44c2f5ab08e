import { Duration } from 'aws-cdk-lib';

/** Sizes and lifecycles the stacks give their resources, as data. */
export const PLATFORM_STACK_DEFAULTS = {
  /** Feature history moves to Intelligent-Tiering after this many days. */
  offlineTieringAfterDays: 30,
  /** Quarantined, late and failed records are kept this long for replay and audit. */
  sideOutputExpirationDays: 90,
  /** S3 server access logs are kept this long. */
  accessLogExpirationDays: 365,
  /** A scheduled deletion of the data key can be cancelled within this window. */
  keyPendingWindow: Duration.days(30),
  processor: { memorySize: 1024, timeout: Duration.minutes(1) },
  lookup: { memorySize: 512, timeout: Duration.seconds(10) },
} as const;
