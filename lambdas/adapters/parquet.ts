/** Feature-history rows -> Parquet bytes, with the column order and types of `offlineColumns(group)`. */
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { FeatureGroup, OfflineColumn } from '../../schemas/index.js';
import { offlineColumns } from '../../schemas/index.js';
import type { OfflineRow } from '../core/ports.js';

type SchemaElement = NonNullable<Parameters<typeof parquetWriteBuffer>[0]['schema']>[number];

const REQUIRED = new Set(['event_time', 'event_id', 'ingestion_time', 'contract_version']);

function element(column: OfflineColumn, required: boolean): SchemaElement {
  const repetition_type = required ? 'REQUIRED' : 'OPTIONAL';
  const name = column.name;
  switch (column.type) {
    case 'string':
      return { name, repetition_type, type: 'BYTE_ARRAY', converted_type: 'UTF8' };
    case 'int64':
      return { name, repetition_type, type: 'INT64' };
    case 'int32':
      return { name, repetition_type, type: 'INT32' };
    case 'float64':
      return { name, repetition_type, type: 'DOUBLE' };
    case 'boolean':
      return { name, repetition_type, type: 'BOOLEAN' };
    case 'timestamp':
      return {
        name,
        repetition_type,
        type: 'INT64',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
      };
  }
}

function cell(column: OfflineColumn, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (column.type === 'int64') return BigInt(value as number);
  if (column.type === 'timestamp') return new Date(value as number | string);
  return value;
}

export function toParquet(group: FeatureGroup, rows: readonly OfflineRow[]): Uint8Array {
  const columns = offlineColumns(group);
  const [entityColumn] = columns;
  const get = (row: OfflineRow, name: string): unknown => {
    if (name === entityColumn?.name) return row.entityId;
    switch (name) {
      case 'event_time':
        return row.eventTime;
      case 'event_id':
        return row.eventId;
      case 'ingestion_time':
        return row.ingestionTime;
      case 'contract_version':
        return row.contractVersion;
      default:
        return row.values[name];
    }
  };
  const buffer = parquetWriteBuffer({
    columnData: columns.map((c) => ({
      name: c.name,
      data: rows.map((r) => cell(c, get(r, c.name))) as never,
    })),
    schema: [
      { name: 'root', num_children: columns.length },
      ...columns.map((c, i) => element(c, i === 0 || REQUIRED.has(c.name))),
    ],
    kvMetadata: [{ key: 'feature_group', value: group.name }],
    createdBy: 'feature-platform',
  });
  return new Uint8Array(buffer);
}
