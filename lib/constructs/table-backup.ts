import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledge } from '../compliance.js';
import { TABLE_BACKUP_DEFAULTS } from './table-backup-defaults.js';
import { withDefaults } from './with-defaults.js';

export interface TableBackupProps {
  /** The table backed up. */
  readonly table: dynamodb.ITable;
  /** Customer-managed key of the backup vault (the key of the data the table holds). */
  readonly encryptionKey: kms.IKey;
  /** How long each daily recovery point is kept. */
  readonly retention: Duration;
  /**
   * Hour (UTC, 0-23) of the daily backup.
   * @default 3
   */
  readonly dailyAtHourUtc?: number;
}

/**
 * Daily AWS Backup recovery points of a table, in a vault of this region (no copy to another
 * region) encrypted with the given key, kept for `retention` and locked for as long. The vault is retained when the stack
 * is deleted: a vault holding recovery points cannot be deleted, and they expire on their own.
 */
export class TableBackup extends Construct {
  public readonly vault: backup.BackupVault;
  public readonly plan: backup.BackupPlan;

  constructor(scope: Construct, id: string, props: TableBackupProps) {
    super(scope, id);
    const p = withDefaults(TABLE_BACKUP_DEFAULTS, props);
    if (p.retention.toHours() < 24) throw new Error(`${this.node.path}: retention must be at least one day`);
    if (!Number.isInteger(p.dailyAtHourUtc) || p.dailyAtHourUtc < 0 || p.dailyAtHourUtc > 23) {
      throw new Error(`${this.node.path}: dailyAtHourUtc (${p.dailyAtHourUtc}) must be an hour 0-23`);
    }
    this.vault = new backup.BackupVault(this, 'Vault', {
      encryptionKey: p.encryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
      // Vault Lock (governance mode): no recovery point can be deleted, or its lifecycle shortened,
      // before it is as old as the plan keeps it, whoever asks; lifting the lock is its own,
      // audited action (backup:DeleteBackupVaultLockConfiguration).
      lockConfiguration: { minRetention: p.retention },
    });
    this.plan = new backup.BackupPlan(this, 'Plan', {
      backupVault: this.vault,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: 'Daily',
          scheduleExpression: events.Schedule.cron({ hour: String(p.dailyAtHourUtc), minute: '0' }),
          deleteAfter: p.retention,
        }),
      ],
    });
    const selection = this.plan.addSelection('Table', {
      resources: [backup.BackupResource.fromDynamoDbTable(p.table)],
      allowRestores: false,
    });
    const role = selection.node.tryFindChild('Role');
    if (role) {
      acknowledge(
        role,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
        "AWS Backup's service role uses the AWS-maintained policy documented for backup jobs; only the AWS Backup " +
          'service can assume it, it creates recovery points of the selected table, and it has no restore rights.',
      );
    }
  }
}
