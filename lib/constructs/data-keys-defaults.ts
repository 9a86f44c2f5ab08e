import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { DirectKeyUse } from './data-keys.js';

/** Defaults of {@link DataKeys}. */
export const DATA_KEYS_DEFAULTS = {
  /**
   * PII: the stores holding it (Kinesis, DynamoDB, S3), AWS Backup's copies of the table and the
   * tokenization key's secret (Secrets Manager).
   * General: S3 (audit trail, query results of non-PII workgroups, general-class objects) and SNS.
   */
  viaServices: {
    pii: ['kinesis', 'dynamodb', 's3', 'backup', 'secretsmanager'],
    general: ['s3', 'sns'],
  },
  trailArns: [] as readonly string[],
  directUse: [] as readonly DirectKeyUse[],
  removalPolicy: RemovalPolicy.RETAIN,
  pendingWindow: Duration.days(30),
} as const;
