/**
 * Offline store on S3: one Parquet object per group, UTC date and batch, at
 * `features/group=<group>/dt=<yyyy-mm-dd>/<batchId>.parquet` (Hive partitions for Glue/Athena).
 * The key is named after the batch's records, so a redelivered batch overwrites its own object.
 */
import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { offlineGroupPrefix } from '../../lib/platform-spec.js';
import type { FeatureGroup } from '../../schemas/index.js';
import type { OfflineBatch, OfflineSink, PutResult } from '../core/ports.js';
import { mapWithConcurrency } from './concurrency.js';
import { asError, OfflineStoreError } from './errors.js';
import { toParquet } from './parquet.js';

export interface S3OfflineSinkProps {
  readonly bucket: string;
  readonly groups: readonly FeatureGroup[];
  readonly client?: S3Client;
  readonly clientConfig?: S3ClientConfig;
}

export const offlineObjectKey = (b: Pick<OfflineBatch, 'group' | 'dt' | 'batchId'>): string =>
  `${offlineGroupPrefix(b.group)}dt=${b.dt}/${b.batchId}.parquet`;

export class S3OfflineSink implements OfflineSink {
  #s3?: S3Client;
  readonly #groups: ReadonlyMap<string, FeatureGroup>;
  constructor(private readonly props: S3OfflineSinkProps) {
    this.#groups = new Map(props.groups.map((g) => [g.name, g]));
  }

  private get s3(): S3Client {
    this.#s3 ??= this.props.client ?? new S3Client(this.props.clientConfig ?? {});
    return this.#s3;
  }

  append(batches: readonly OfflineBatch[]): Promise<PutResult[]> {
    return mapWithConcurrency(batches, 8, async (batch) => {
      const key = offlineObjectKey(batch);
      try {
        const group = this.#groups.get(batch.group);
        if (!group) throw new Error(`unknown feature group ${batch.group}`);
        await this.s3.send(
          new PutObjectCommand({
            Bucket: this.props.bucket,
            Key: key,
            Body: toParquet(group, batch.rows),
            ContentType: 'application/vnd.apache.parquet',
          }),
        );
        return 'stored';
      } catch (error) {
        return {
          failed: new OfflineStoreError(`put of ${key} failed: ${asError(error).message}`, 'offline', {
            cause: error,
          }),
        };
      }
    });
  }
}
