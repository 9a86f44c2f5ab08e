import { Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import { Construct } from 'constructs';
import type { FeatureGroup, OfflineColumn } from '../../schemas/index.js';
import { offlineColumns } from '../../schemas/index.js';
import { offlineGroupPrefix } from '../platform-spec.js';
import { OFFLINE_CATALOG_DEFAULTS } from './offline-catalog-defaults.js';
import { withDefaults } from './with-defaults.js';

export interface OfflineCatalogProps {
  /** Glue database name, e.g. `fp_dev`. */
  readonly databaseName: string;
  /** Offline store bucket (physical name) the tables point at. */
  readonly bucketName: string;
  /** One Glue table per group, columns from `offlineColumns(group)`. */
  readonly groups: readonly FeatureGroup[];
  /**
   * First `dt` partition projection enumerates (yyyy-MM-dd); the range ends at NOW.
   * @default '2024-01-01'
   */
  readonly projectionStartDate?: string;
}

/** Glue (Hive) type of each offline column type; Parquet logical types map one to one. */
export const GLUE_COLUMN_TYPES: Record<OfflineColumn['type'], string> = {
  string: 'string',
  int64: 'bigint',
  int32: 'int',
  float64: 'double',
  boolean: 'boolean',
  timestamp: 'timestamp',
};

const PARQUET = {
  inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
  serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
};

/**
 * The offline store's Glue catalog: a database and one Parquet table per feature group,
 * partitioned by `dt` with partition projection (no crawler, no MSCK REPAIR).
 */
export class OfflineCatalog extends Construct {
  public readonly database: glue.CfnDatabase;
  /** Glue table per feature group name. */
  public readonly tables: ReadonlyMap<string, glue.CfnTable>;

  constructor(scope: Construct, id: string, props: OfflineCatalogProps) {
    super(scope, id);
    const p = withDefaults(OFFLINE_CATALOG_DEFAULTS, props);
    if (p.groups.length === 0) throw new Error(`${this.node.path}: groups must not be empty`);
    const names = p.groups.map((g) => g.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) throw new Error(`${this.node.path}: feature group "${duplicate}" appears twice`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(p.projectionStartDate)) {
      throw new Error(`${this.node.path}: projectionStartDate "${p.projectionStartDate}" must be yyyy-MM-dd`);
    }
    const catalogId = Stack.of(this).account;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId,
      databaseInput: {
        name: p.databaseName,
        description: 'Feature platform offline store (feature history)',
      },
    });
    const tables = new Map<string, glue.CfnTable>();
    for (const group of p.groups) {
      const location = `s3://${p.bucketName}/${offlineGroupPrefix(group.name)}`;
      const table = new glue.CfnTable(this, `Table-${group.name}`, {
        catalogId,
        databaseName: p.databaseName,
        tableInput: {
          name: group.name,
          description: group.description,
          tableType: 'EXTERNAL_TABLE',
          partitionKeys: [{ name: 'dt', type: 'string', comment: 'UTC date of the event time (yyyy-MM-dd)' }],
          parameters: {
            classification: 'parquet',
            EXTERNAL: 'TRUE',
            'projection.enabled': 'true',
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': `${p.projectionStartDate},NOW`,
            'projection.dt.interval': '1',
            'projection.dt.interval.unit': 'DAYS',
            'storage.location.template': `${location}dt=\${dt}/`,
          },
          storageDescriptor: {
            location,
            ...PARQUET,
            columns: offlineColumns(group).map((c) => ({
              name: c.name,
              type: GLUE_COLUMN_TYPES[c.type],
              comment: c.description,
            })),
          },
        },
      });
      table.addResourceDependency(this.database);
      tables.set(group.name, table);
    }
    this.tables = tables;
  }
}
