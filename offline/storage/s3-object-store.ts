/** {@link ObjectStore} on S3 (or an S3-compatible endpoint such as the local s3rver). */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { mapWithConcurrency } from '../../lambdas/adapters/concurrency.js';
import { sseKmsHeaders } from '../../lambdas/adapters/s3-offline-sink.js';
import { ObjectExistsError, ObjectStoreError } from '../errors.js';
import { type ObjectStore, type PutOptions, type StoredObject, sharedKmsKey } from './object-store.js';

export interface S3ObjectStoreProps {
  readonly bucket: string;
  readonly client?: S3Client;
  readonly clientConfig?: S3ClientConfig;
  /** Requests in flight at once. @default 8 */
  readonly concurrency?: number;
}

/** Objects whose KMS key a store remembers from reading them (a compaction's inputs fit). */
const KMS_KEYS_REMEMBERED = 10_000;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class S3ObjectStore implements ObjectStore {
  #s3?: S3Client;
  /** The SSE-KMS key of the objects read last (`put`'s `encryptLike`), at most KMS_KEYS_REMEMBERED. */
  readonly #kmsKeyOf = new Map<string, string | undefined>();

  #remember(key: string, o: { ServerSideEncryption?: string; SSEKMSKeyId?: string }): void {
    this.#kmsKeyOf.delete(key);
    this.#kmsKeyOf.set(key, o.ServerSideEncryption === 'aws:kms' ? o.SSEKMSKeyId : undefined);
    if (this.#kmsKeyOf.size > KMS_KEYS_REMEMBERED)
      this.#kmsKeyOf.delete(this.#kmsKeyOf.keys().next().value as string);
  }

  /** The SSE-KMS keys of objects, asked of S3 (HeadObject) for those not read lately. */
  async #kmsKeysOf(keys: readonly string[]): Promise<(string | undefined)[]> {
    return mapWithConcurrency(keys, this.props.concurrency ?? 8, async (key) => {
      if (this.#kmsKeyOf.has(key)) return this.#kmsKeyOf.get(key);
      this.#remember(key, await this.#head(key));
      return this.#kmsKeyOf.get(key);
    });
  }
  constructor(private readonly props: S3ObjectStoreProps) {}

  get name(): string {
    return this.props.bucket;
  }

  private get s3(): S3Client {
    this.#s3 ??= this.props.client ?? new S3Client(this.props.clientConfig ?? {});
    return this.#s3;
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    try {
      for await (const page of paginateListObjectsV2(
        { client: this.s3 },
        { Bucket: this.props.bucket, Prefix: prefix },
      )) {
        for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
      }
    } catch (error) {
      throw new ObjectStoreError(`list of s3://${this.props.bucket}/${prefix} failed: ${message(error)}`, {
        cause: error,
      });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.props.bucket, Key: key }));
      this.#remember(key, out);
      return (await out.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (error) {
      throw new ObjectStoreError(`get of s3://${this.props.bucket}/${key} failed: ${message(error)}`, {
        cause: error,
      });
    }
  }

  async put(key: string, body: Uint8Array, contentType: string, options: PutOptions = {}): Promise<void> {
    const keyId =
      options.kmsKeyId ?? (options.encryptLike && sharedKmsKey(await this.#kmsKeysOf(options.encryptLike)));
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.props.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ...(options.ifNoneMatch ? { IfNoneMatch: options.ifNoneMatch } : {}),
          ...sseKmsHeaders(keyId),
        }),
      );
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (options.ifNoneMatch && status === 412)
        throw new ObjectExistsError(`s3://${this.props.bucket}/${key} exists`, { cause: error });
      throw new ObjectStoreError(`put of s3://${this.props.bucket}/${key} failed: ${message(error)}`, {
        cause: error,
      });
    }
  }

  async metadataOf(key: string): Promise<Readonly<Record<string, string>>> {
    return (await this.#head(key)).Metadata ?? {};
  }

  async #head(key: string): Promise<HeadObjectCommandOutput> {
    try {
      return await this.s3.send(new HeadObjectCommand({ Bucket: this.props.bucket, Key: key }));
    } catch (error) {
      throw new ObjectStoreError(`head of s3://${this.props.bucket}/${key} failed: ${message(error)}`, {
        cause: error,
      });
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    // One DeleteObject per key: DeleteObjects needs a Content-MD5 some S3-compatible stores reject.
    await mapWithConcurrency(keys, this.props.concurrency ?? 8, async (key) => {
      try {
        await this.s3.send(new DeleteObjectCommand({ Bucket: this.props.bucket, Key: key }));
      } catch (error) {
        throw new ObjectStoreError(`delete of s3://${this.props.bucket}/${key} failed: ${message(error)}`, {
          cause: error,
        });
      }
    });
  }

  async purgeNoncurrentVersions(key: string): Promise<number | 'unsupported'> {
    let listed: ListObjectVersionsCommandOutput;
    try {
      listed = await this.s3.send(new ListObjectVersionsCommand({ Bucket: this.props.bucket, Prefix: key }));
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      if (/NotImplemented|MethodNotAllowed/i.test(name)) return 'unsupported';
      const what = `version listing of s3://${this.props.bucket}/${key}`;
      throw new ObjectStoreError(`${what} failed: ${message(error)}`, { cause: error });
    }
    // A store without versioning answers the listing as a plain one (no Versions at all).
    if (!listed.Versions && !listed.DeleteMarkers) return 'unsupported';
    const old = [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])].filter(
      (v) => v.Key === key && v.VersionId && v.VersionId !== 'null' && !v.IsLatest,
    );
    for (const v of old) {
      await this.s3.send(
        new DeleteObjectCommand({ Bucket: this.props.bucket, Key: key, VersionId: v.VersionId }),
      );
    }
    return old.length;
  }
}
