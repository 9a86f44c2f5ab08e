import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';

/** Defaults of {@link AuditTrail}. */
export const AUDIT_TRAIL_DEFAULTS = {
  logRetention: logs.RetentionDays.ONE_YEAR,
  removalPolicy: RemovalPolicy.RETAIN,
} as const;
