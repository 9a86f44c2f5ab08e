import { RemovalPolicy } from 'aws-cdk-lib';

/** Defaults of {@link PlatformTable}: kept, protected from deletion, recoverable to the second. */
export const PLATFORM_TABLE_DEFAULTS = {
  removalPolicy: RemovalPolicy.RETAIN,
  deletionProtection: true,
  pointInTimeRecovery: true,
} as const;
