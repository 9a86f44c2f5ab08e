import { Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import { Construct } from 'constructs';
import type { EventContract, FeatureGroup, OfflineColumn } from '../../schemas/index.js';
import { eventColumns, offlineColumns } from '../../schemas/index.js';
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
   * One Glue table `events_<contract>` per contract over its raw events, columns from `eventColumns(contract)`.
   * @default none
   */
  readonly contracts?: readonly EventContract[];
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
        description: 'Feature platform offline store (feature history and raw events)',
      },
    });
    const tables = new Map<string, glue.CfnTable>();
    const addTable = (
      id: string,
      name: string,
      description: string,
      prefix: string,
      columns: readonly OfflineColumn[],
    ) => {
      const location = `s3://${p.bucketName}/${prefix}`;
      const table = new glue.CfnTable(this, id, {
        catalogId,
        databaseName: p.databaseName,
        tableInput: {
          name,
          description,
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
            columns: columns.map((c) => ({
              name: c.name,
              type: GLUE_COLUMN_TYPES[c.type],
              comment: c.description,
            })),
          },
        },
      });
      table.addResourceDependency(this.database);
      tables.set(name, table);
    };
    for (const group of p.groups) {
      addTable(
        `Table-${group.name}`,
        group.name,
        group.description,
        offlineGroupPrefix(group.name),
        offlineColumns(group),
      );
    }
    // The raw validated events of each contract (window features at a point in time are computed from them).
    for (const contract of p.contracts ?? []) {
      addTable(
        `Events-${contract.name}`,
        `events_${contract.name}`,
        `Raw validated ${contract.name} events (current contract shape, PII tokenized)`,
        `events/contract=${contract.name}/`,
        eventColumns(contract),
      );
    }
    this.tables = tables;
  }
}
