/**
 * Offline store on S3: one Parquet object per dataset partition, UTC date and batch, at
 * `<prefix>dt=<yyyy-mm-dd>/<batchId>.parquet` (Hive partitions for Glue/Athena): the feature
 * history under `features/group=<group>/`, the raw events under `events/contract=<contract>/`.
 * The key is named after the batch's records, so a redelivered batch overwrites its own object.
 * Objects take the bucket's default KMS key, but for the datasets given their own (`objectKeyIds`).
 */
import {
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { PARKED_ROWS_KMS_KEY_METADATA, parkedRowsKey } from '../../lib/platform-spec.js';
import type { OfflineBatch, OfflineSink, PutResult } from '../core/ports.js';
import { mapWithConcurrency } from './concurrency.js';
import { asError, OfflineStoreError } from './errors.js';
import { toParquet } from './parquet.js';

export interface S3OfflineSinkProps {
  readonly bucket: string;
  /**
   * KMS keys (ARNs) of datasets written under another key than the bucket's default, by dataset
   * prefix (SSE-KMS per object, with an S3 Bucket Key): a group holding no PII under the general key.
   */
  readonly objectKeyIds?: Readonly<Record<string, string>>;
  /** Where objects that cannot be written are parked (`park`): the side-output bucket. */
  readonly parkBucket?: string;
  readonly client?: S3Client;
  readonly clientConfig?: S3ClientConfig;
}

/** A put's headers for SSE-KMS under `keyId` with an S3 Bucket Key (none: the bucket's default). */
export const sseKmsHeaders = (keyId: string | undefined): Partial<PutObjectCommandInput> =>
  keyId ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyId, BucketKeyEnabled: true } : {};

export const offlineObjectKey = (b: Pick<OfflineBatch, 'prefix' | 'dt' | 'batchId'>): string =>
  `${b.prefix}dt=${b.dt}/${b.batchId}.parquet`;

export class S3OfflineSink implements OfflineSink {
  #s3?: S3Client;
  constructor(private readonly props: S3OfflineSinkProps) {}

  private get s3(): S3Client {
    this.#s3 ??= this.props.client ?? new S3Client(this.props.clientConfig ?? {});
    return this.#s3;
  }

  append(batches: readonly OfflineBatch[]): Promise<PutResult[]> {
    return this.#put(batches, this.props.bucket, offlineObjectKey, sseKmsHeaders);
  }

  /**
   * In the side-output bucket under `parked-rows/` and the offline key, under that bucket's own
   * default key (the PII key): the dataset's key may be why the offline bucket refused it. The key
   * it is to have in the offline bucket goes with it, as metadata (PARKED_ROWS_KMS_KEY_METADATA).
   */
  park(batches: readonly OfflineBatch[]): Promise<PutResult[]> {
    const bucket = this.props.parkBucket;
    if (!bucket)
      return Promise.resolve(
        batches.map(() => ({ failed: new OfflineStoreError('no park bucket', 'offline') })),
      );
    return this.#put(
      batches,
      bucket,
      (b) => parkedRowsKey(offlineObjectKey(b)),
      (keyId) => (keyId ? { Metadata: { [PARKED_ROWS_KMS_KEY_METADATA]: keyId } } : {}),
    );
  }

  #put(
    batches: readonly OfflineBatch[],
    bucket: string,
    keyOf: (b: OfflineBatch) => string,
    encryption: (keyId: string | undefined) => Partial<PutObjectCommandInput>,
  ): Promise<PutResult[]> {
    return mapWithConcurrency(batches, 8, async (batch) => {
      const key = keyOf(batch);
      try {
        await this.s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: toParquet(batch.columns, batch.cells, { dataset: batch.prefix }),
            ContentType: 'application/vnd.apache.parquet',
            ...encryption(this.props.objectKeyIds?.[batch.prefix]),
          }),
        );
        return 'stored';
      } catch (error) {
        const message = `put of ${key} failed: ${asError(error).message}`;
        return { failed: new OfflineStoreError(message, 'offline', { cause: error }) };
      }
    });
  }
}
