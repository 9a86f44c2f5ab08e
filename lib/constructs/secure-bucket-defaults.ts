import { RemovalPolicy } from 'aws-cdk-lib';

/** Defaults of {@link SecureBucket}: kept, versioned, old versions and stalled uploads cleaned up. */
export const SECURE_BUCKET_DEFAULTS = {
  removalPolicy: RemovalPolicy.RETAIN,
  autoDeleteObjects: false,
  noncurrentVersionExpirationDays: 30,
  abortIncompleteMultipartUploadDays: 7,
} as const;
