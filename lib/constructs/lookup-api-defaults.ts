import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { LOOKUP_ROUTES } from '../platform-spec.js';

/** Defaults of {@link LookupApi}. */
export const LOOKUP_API_DEFAULTS = {
  routes: LOOKUP_ROUTES,
  /** Routes carry their own version (`/v1/...`), so the stage is just `api`. */
  stageName: 'api',
  throttlingRateLimit: 500,
  throttlingBurstLimit: 1000,
  accessLogRetention: logs.RetentionDays.ONE_MONTH,
  removalPolicy: RemovalPolicy.RETAIN,
} as const;

/** An interface VPC endpoint's id, as a private API is associated with it. */
export const VPC_ENDPOINT_ID = /^vpce-[0-9a-f]{8,17}$/;

/** API Gateway's hard limit on a Lambda integration's duration. */
export const API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 29;
