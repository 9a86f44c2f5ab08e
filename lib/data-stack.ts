import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { Classification, EventContract, FeatureGroup } from '../schemas/index.js';
import { acknowledge } from './compliance.js';
import { allowCloudTrailDelivery, trailArn } from './constructs/audit-trail.js';
import { DataKeys } from './constructs/data-keys.js';
import { OfflineCatalog } from './constructs/offline-catalog.js';
import { PlatformTable } from './constructs/platform-table.js';
import { SecureBucket } from './constructs/secure-bucket.js';
import { TableBackup } from './constructs/table-backup.js';
import { TokenizationKeySecret } from './constructs/tokenization-key-secret.js';
import { type StoreClassifications, storeClassifications } from './data-classification.js';
import type { DeploymentNames } from './deployment-names.js';
import { type Environment, removalPolicyOf } from './environments.js';
import { SEAL_PAYLOADS_ACTIONS } from './permissions.js';
import {
  OFFLINE_DATASET_ROOTS,
  ON_FAILURE_METRICS_FILTER_ID,
  ON_FAILURE_PREFIX,
  ONLINE_TABLE,
  PARKED_DONE_PREFIX,
  PARKED_PREFIX,
  PARKED_ROWS_PREFIX,
  SEAL_ENCRYPTION_CONTEXT,
  SIDE_OUTPUT_KINDS,
} from './platform-spec.js';
import { PLATFORM_STACK_DEFAULTS as D } from './platform-stack-defaults.js';

export interface DataStackProps extends StackProps {
  /** The environment deployed. */
  readonly environment: Environment;
  /** Physical names (`deploymentNames(environment)`). */
  readonly names: DeploymentNames;
  /** Contracts the stream carries (their classification decides the stream's and side outputs' key). */
  readonly contracts: Iterable<EventContract>;
  /** Feature groups that get an offline Glue table (their classification decides the stores' key). */
  readonly featureGroups: readonly FeatureGroup[];
  /**
   * Roles (names) that may open sealed side-output payloads with the PII key directly: the data
   * stewards, whose redrive sends parked records back and whose erasure looks inside them.
   * @default none
   */
  readonly unsealerRoleNames?: readonly string[];
}

/**
 * Everything stateful: the two keys, the PII tokenization key's secret, the online store and its
 * backups, the offline store and its catalog, the side outputs, the audit and query-result
 * buckets, their access logs, the alarm topic.
 */
export class DataStack extends Stack {
  public readonly keys: DataKeys;
  /** The processor's PII tokenization (HMAC) key, encrypted with the PII key. */
  public readonly piiTokenSecret: TokenizationKeySecret;
  public readonly classifications: StoreClassifications;
  public readonly onlineTable: dynamodb.Table;
  public readonly backup: TableBackup;
  public readonly accessLogsBucket: s3.Bucket;
  public readonly offlineBucket: s3.Bucket;
  public readonly sideOutputBucket: s3.Bucket;
  public readonly auditBucket: s3.Bucket;
  public readonly queryResultsBucket: s3.Bucket;
  public readonly catalog: OfflineCatalog;
  public readonly alarmTopic: sns.Topic;
  /** One notification to the alarm topic per batch the event source mapping gives up (EventBridge). */
  public readonly givenUpNotification: events.Rule;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { environment, names } = props;
    const retain = environment.removalPolicy === 'retain';
    const removalPolicy = removalPolicyOf(environment);
    const trail = trailArn(this, names.trail);
    const contractList = [...props.contracts]; // an iterator may be read only once
    this.classifications = storeClassifications(contractList, props.featureGroups);
    const c = this.classifications;

    const processorRoleArn = `arn:${this.partition}:iam::${this.account}:role/${names.processorRole}`;
    this.keys = new DataKeys(this, 'Keys', {
      aliasPrefix: names.prefix,
      trailArns: [trail],
      // The processor seals raw side-output payloads with data keys of the PII key (AES-GCM envelope);
      // data stewards open them (a parked record's payload, for redrive). Both only in the sealing
      // context (lambdas/adapters/aes-gcm-sealer.ts); stewards also keys sealed before it had one.
      directUse: [
        {
          sid: 'ProcessorSealsRawPayloads',
          keyClass: 'pii',
          principalArn: processorRoleArn,
          actions: [...SEAL_PAYLOADS_ACTIONS],
          encryptionContext: SEAL_ENCRYPTION_CONTEXT,
        },
        ...(props.unsealerRoleNames ?? []).map((name, i) => ({
          sid: `StewardOpensSealedPayloads${i}`,
          keyClass: 'pii' as const,
          principalArn: `arn:${this.partition}:iam::${this.account}:role/${name}`,
          actions: ['kms:Decrypt'],
          encryptionContext: SEAL_ENCRYPTION_CONTEXT,
          orWithoutContext: true,
        })),
      ],
      pendingWindow: D.keyPendingWindow,
      removalPolicy,
    });
    this.piiTokenSecret = new TokenizationKeySecret(this, 'PiiTokenKey', {
      secretName: names.piiTokenSecret,
      encryptionKey: this.keys.pii,
      removalPolicy,
      readerRoleArns: [processorRoleArn],
    });
    const keyOf = (classification: Classification) => this.keys.forClassification(classification);

    this.onlineTable = new PlatformTable(this, 'OnlineTable', {
      tableName: names.onlineTable,
      spec: ONLINE_TABLE,
      encryptionKey: keyOf(c.onlineTable),
      removalPolicy,
      deletionProtection: retain,
    }).table;
    this.backup = new TableBackup(this, 'OnlineTableBackup', {
      table: this.onlineTable,
      encryptionKey: keyOf(c.onlineTable),
      retention: Duration.days(environment.backupRetentionDays),
    });

    const bucketProps = { removalPolicy, autoDeleteObjects: !retain };
    this.accessLogsBucket = new SecureBucket(this, 'AccessLogsBucket', {
      ...bucketProps,
      expirationDays: environment.auditRetentionDays,
    }).bucket;
    // The data buckets take objects under the platform's own keys only (lib/constructs/secure-bucket.ts).
    const platformKeys = [this.keys.pii, this.keys.general];
    const loggedBucket = (id: string, props: ConstructorParameters<typeof SecureBucket>[2]) =>
      new SecureBucket(this, id, { ...bucketProps, serverAccessLogsBucket: this.accessLogsBucket, ...props })
        .bucket;
    this.offlineBucket = loggedBucket('OfflineBucket', {
      bucketName: names.offlineBucket,
      encryptionKey: keyOf(c.offlineBucket),
      allowedObjectKeys: platformKeys,
      intelligentTieringAfterDays: D.offlineTieringAfterDays,
      // Feature history and raw events go after the record-keeping period; erasure records
      // (audit/erasure/) are kept.
      prefixExpirations: OFFLINE_DATASET_ROOTS.map((prefix) => ({
        prefix,
        days: environment.offlineRetentionDays,
      })),
    });
    this.sideOutputBucket = loggedBucket('SideOutputBucket', {
      bucketName: names.sideOutputBucket,
      encryptionKey: keyOf(c.sideOutputBucket),
      allowedObjectKeys: platformKeys,
      // By prefix, no bucket-wide expiry: parked records (parked/) stay until a redrive finishes
      // them, what says a redrive did (parked-done/) is needed only while its copy may be redelivered
      // (a day). Earlier versions of both go after a day (their payloads are sealed PII).
      prefixExpirations: [
        ...SIDE_OUTPUT_KINDS.map((kind) => ({ prefix: `${kind}/`, days: D.sideOutputExpirationDays })),
        { prefix: ON_FAILURE_PREFIX, days: D.onFailureRecordExpirationDays },
        { prefix: PARKED_DONE_PREFIX, days: D.onFailureRecordExpirationDays },
        { prefix: PARKED_PREFIX },
        // Offline objects the offline bucket refused, until a redrive puts them in place.
        { prefix: PARKED_ROWS_PREFIX },
      ],
      // Every batch the event source mapping gives up is a put here: alarmed on by the ingest stack
      // (request metrics, best effort) and notified one by one (EventBridge, below).
      requestMetrics: [{ id: ON_FAILURE_METRICS_FILTER_ID, prefix: ON_FAILURE_PREFIX }],
      eventBridgeEnabled: true,
    });
    this.auditBucket = loggedBucket('AuditBucket', {
      bucketName: names.auditBucket,
      encryptionKey: this.keys.general,
      expirationDays: environment.auditRetentionDays,
      // Where the environment keeps its data, its audit trail is write-once for as long as it is
      // kept: not even an administrator of the account can delete or rewrite a log file (or its
      // digest, which log file validation checks). Environments torn down with their data have none.
      ...(retain ? { objectLockDays: environment.auditRetentionDays } : {}),
    });
    allowCloudTrailDelivery(this.auditBucket, trail, this.account);
    // Results may hold whatever the queried groups hold: the PII key unless a workgroup says otherwise.
    this.queryResultsBucket = loggedBucket('QueryResultsBucket', {
      bucketName: names.queryResultsBucket,
      encryptionKey: this.keys.pii,
      expirationDays: D.queryResultExpirationDays,
      allowedObjectKeys: platformKeys,
    });

    this.catalog = new OfflineCatalog(this, 'OfflineCatalog', {
      databaseName: names.glueDatabase,
      bucketName: names.offlineBucket,
      groups: props.featureGroups,
      contracts: contractList,
    });
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      topicName: names.alarmTopic,
      displayName: `Feature platform ${environment.name} alarms`,
      masterKey: this.keys.general,
      enforceSSL: true,
    });
    // The topic policy CDK writes (for enforceSSL) replaces SNS's default one: without this, no
    // alarm of the account could publish and every alarm action would fail ("not authorized to
    // perform: SNS:Publish"). Only this account's alarms, in this region.
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: {
            'aws:SourceArn': `arn:${this.partition}:cloudwatch:${this.region}:${this.account}:alarm:*`,
          },
        },
      }),
    );
    this.givenUpNotification = this.notifyGivenUpBatches();
    this.acknowledgeBucketFindings();
  }

  /**
   * Every batch the event source mapping gives up, one notification to the alarm topic naming its
   * object: S3's request metrics, which `StreamSource/GivenUpRecordsAlarm` watches, are delivered on a
   * best-effort basis, EventBridge's S3 events are not. The target grants nothing on its own (CDK's
   * would grant the key with a wildcard action and no condition): the topic takes this rule's events
   * only, the key the account's rules (`AlarmsAndRulesToEncryptedTopics`).
   */
  private notifyGivenUpBatches(): events.Rule {
    const rule = new events.Rule(this, 'GivenUpBatchNotification', {
      description: 'A batch the event source mapping gave up reached the on-failure prefix: npm run redrive',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [this.sideOutputBucket.bucketName] },
          object: { key: [{ prefix: ON_FAILURE_PREFIX }] },
        },
      },
    });
    const object = `s3://${events.EventField.fromPath('$.detail.bucket.name')}/${events.EventField.fromPath('$.detail.object.key')}`;
    rule.addTarget({
      bind: () => ({
        arn: this.alarmTopic.topicArn,
        input: events.RuleTargetInput.fromText(
          `The event source mapping gave up a batch of records (23 hours of failures): ${object}. ` +
            'Fix what failed, then run npm run redrive (docs/operations.md, StreamSource/GivenUpRecordsAlarm).',
        ),
      }),
    });
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'GivenUpBatchNotification',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: { ArnEquals: { 'aws:SourceArn': rule.ruleArn } },
      }),
    );
    return rule;
  }

  private acknowledgeBucketFindings(): void {
    const buckets = [
      this.accessLogsBucket,
      this.offlineBucket,
      this.sideOutputBucket,
      this.auditBucket,
      this.queryResultsBucket,
    ];
    for (const bucket of buckets) {
      acknowledge(
        bucket,
        'NIST.800.53.R5-S3BucketReplicationEnabled',
        'Residency: data must stay in the allowed regions (prod: me-central-1 only), so cross-region replication ' +
          'is off on purpose; S3 stores every object across at least three Availability Zones of the region, and ' +
          'versioning with noncurrent-version retention protects against overwrite and deletion.',
      );
    }
    acknowledge(
      this.accessLogsBucket,
      'NIST.800.53.R5-S3DefaultEncryptionKMS',
      'S3 server access logging delivers only to target buckets with SSE-S3 default encryption (SSE-KMS is not ' +
        'supported for access log targets, S3 User Guide); the bucket holds request metadata, not stored data, ' +
        'is private, TLS-only and versioned.',
    );
  }
}
