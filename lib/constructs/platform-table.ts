import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { TableSpec } from '../platform-spec.js';
import { PLATFORM_TABLE_DEFAULTS } from './platform-table-defaults.js';
import { withDefaults } from './with-defaults.js';

export interface PlatformTableProps {
  /** Physical table name (from `resourceNames`). */
  readonly tableName: string;
  /** Key schema and TTL attribute (from lib/platform-spec.ts). */
  readonly spec: TableSpec;
  /** Customer-managed key the table is encrypted with. */
  readonly encryptionKey: kms.IKey;
  /**
   * What happens to the table when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Refuse DeleteTable (needs `removalPolicy: RETAIN`).
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * Continuous backups with point-in-time recovery.
   * @default true
   */
  readonly pointInTimeRecovery?: boolean;
}

const ATTRIBUTE_TYPES: Record<TableSpec['partitionKey']['type'], dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
};

/** An on-demand DynamoDB table described by a {@link TableSpec}, encrypted with a CMK. */
export class PlatformTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: PlatformTableProps) {
    super(scope, id);
    const p = withDefaults(PLATFORM_TABLE_DEFAULTS, props);
    if (p.deletionProtection && p.removalPolicy === RemovalPolicy.DESTROY) {
      throw new Error(
        `${this.node.path}: deletionProtection contradicts removalPolicy DESTROY; set one of them differently`,
      );
    }
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: p.tableName,
      partitionKey: { name: p.spec.partitionKey.name, type: ATTRIBUTE_TYPES[p.spec.partitionKey.type] },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: p.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: p.pointInTimeRecovery },
      timeToLiveAttribute: p.spec.timeToLiveAttribute,
      deletionProtection: p.deletionProtection,
      removalPolicy: p.removalPolicy,
    });
  }
}
