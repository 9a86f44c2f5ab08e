import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';

/** Defaults of {@link ApiFirewall}. */
export const API_FIREWALL_DEFAULTS = {
  /** 1,000 requests per second per source address, sustained over five minutes: abuse, not load. */
  requestsPerIpPerFiveMinutes: 300_000,
  logRetention: logs.RetentionDays.ONE_MONTH,
  removalPolicy: RemovalPolicy.RETAIN,
} as const;

/** WAF's bounds on a rate-based rule's limit (requests per evaluation window). */
export const WAF_RATE_LIMIT_BOUNDS = { min: 10, max: 2_000_000_000 } as const;
