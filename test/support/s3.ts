import type { S3Client } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { S3ObjectStore } from '../../offline/storage/s3-object-store.js';

/** Every key under a prefix (all pages), sorted. */
export async function listKeys(s3: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  return (await new S3ObjectStore({ bucket, client: s3 }).list(prefix)).map((o) => o.key);
}

export const getBytes = (s3: S3Client, bucket: string, key: string): Promise<Uint8Array> =>
  new S3ObjectStore({ bucket, client: s3 }).get(key);

export async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await getBytes(s3, bucket, key))) as T;
}

/** Every row of every Parquet object under a prefix. */
export async function readParquetRows(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const key of await listKeys(s3, bucket, prefix)) {
    const bytes = await getBytes(s3, bucket, key);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    rows.push(...((await parquetReadObjects({ file })) as Record<string, unknown>[]));
  }
  return rows;
}
