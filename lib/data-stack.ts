import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { FeatureGroup } from '../schemas/index.js';
import { OfflineCatalog } from './constructs/offline-catalog.js';
import { PlatformTable } from './constructs/platform-table.js';
import { SecureBucket } from './constructs/secure-bucket.js';
import { type Environment, removalPolicyOf } from './environments.js';
import { ONLINE_TABLE, type ResourceNames } from './platform-spec.js';
import { PLATFORM_STACK_DEFAULTS as D } from './platform-stack-defaults.js';

export interface DataStackProps extends StackProps {
  /** The environment deployed. */
  readonly environment: Environment;
  /** Resource name prefix, e.g. `fp-dev`. */
  readonly prefix: string;
  /** Physical names (`resourceNames(prefix, ...)`). */
  readonly names: ResourceNames;
  /** Feature groups that get an offline Glue table. */
  readonly featureGroups: readonly FeatureGroup[];
}

/** The stateful part: data key, online store table, offline and side-output buckets, Glue catalog. */
export class DataStack extends Stack {
  public readonly dataKey: kms.Key;
  public readonly onlineTable: dynamodb.Table;
  public readonly accessLogsBucket: s3.Bucket;
  public readonly offlineBucket: s3.Bucket;
  public readonly sideOutputBucket: s3.Bucket;
  public readonly catalog: OfflineCatalog;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { environment, names, prefix } = props;
    const retain = environment.removalPolicy === 'retain';
    const removalPolicy = removalPolicyOf(environment);

    // One key for every data class for now; a later change splits keys per classification.
    this.dataKey = new kms.Key(this, 'DataKey', {
      alias: `alias/${prefix}-data`,
      description: `Feature platform ${environment.name}: stream, tables and buckets`,
      enableKeyRotation: true,
      pendingWindow: D.keyPendingWindow,
      removalPolicy,
    });

    const tableProps = { encryptionKey: this.dataKey, removalPolicy, deletionProtection: retain };
    this.onlineTable = new PlatformTable(this, 'OnlineTable', {
      ...tableProps,
      tableName: names.onlineTable,
      spec: ONLINE_TABLE,
    }).table;

    const bucketProps = { removalPolicy, autoDeleteObjects: !retain };
    this.accessLogsBucket = new SecureBucket(this, 'AccessLogsBucket', {
      ...bucketProps,
      expirationDays: D.accessLogExpirationDays,
    }).bucket;
    const dataBucketProps = {
      ...bucketProps,
      encryptionKey: this.dataKey,
      serverAccessLogsBucket: this.accessLogsBucket,
    };
    this.offlineBucket = new SecureBucket(this, 'OfflineBucket', {
      ...dataBucketProps,
      bucketName: names.offlineBucket,
      intelligentTieringAfterDays: D.offlineTieringAfterDays,
    }).bucket;
    this.sideOutputBucket = new SecureBucket(this, 'SideOutputBucket', {
      ...dataBucketProps,
      bucketName: names.sideOutputBucket,
      expirationDays: D.sideOutputExpirationDays,
    }).bucket;

    this.catalog = new OfflineCatalog(this, 'OfflineCatalog', {
      databaseName: prefix.replaceAll('-', '_'),
      bucketName: names.offlineBucket,
      groups: props.featureGroups,
    });
  }
}
