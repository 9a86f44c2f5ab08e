/** Offline rows -> Parquet bytes, in the column order and types the dataset declares. */
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { OfflineColumn } from '../../schemas/index.js';

type SchemaElement = NonNullable<Parameters<typeof parquetWriteBuffer>[0]['schema']>[number];

/** Columns that are never null in any dataset. */
const REQUIRED = new Set(['event_time', 'event_id', 'ingestion_time', 'contract_version']);

function element(column: OfflineColumn): SchemaElement {
  const repetition_type = REQUIRED.has(column.name) ? 'REQUIRED' : 'OPTIONAL';
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

/** Column-major cells (`cells[i]` for `columns[i]`, as in an OfflineBatch) -> Parquet bytes. */
export function toParquet(
  columns: readonly OfflineColumn[],
  cells: readonly (readonly unknown[])[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const buffer = parquetWriteBuffer({
    columnData: columns.map((c, i) => ({
      name: c.name,
      data: (cells[i] ?? []).map((v) => cell(c, v)) as never,
    })),
    schema: [{ name: 'root', num_children: columns.length }, ...columns.map(element)],
    kvMetadata: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    createdBy: 'feature-platform',
  });
  return new Uint8Array(buffer);
}
