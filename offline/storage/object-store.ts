/**
 * The offline store's object storage, as the offline jobs need it. Contract: keys are exact (no
 * globbing); `list` returns every object under the prefix (all pages), in key order; `get` of a
 * missing key rejects with an ObjectStoreError; `delete` of a missing key succeeds.
 */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
}

export interface PutOptions {
  readonly ifNoneMatch?: '*';
  readonly encryptLike?: readonly string[];
  /** The KMS key (ARN) to write it under, outright. */
  readonly kmsKeyId?: string;
}

/** The KMS key objects share, if they all have one and the same (else the bucket's default applies). */
export function sharedKmsKey(keyIds: readonly (string | undefined)[]): string | undefined {
  const first = keyIds[0];
  return first && keyIds.every((k) => k === first) ? first : undefined;
}

export interface ObjectStore {
  /** A name for messages and audit records (the bucket). */
  readonly name: string;
  list(prefix: string): Promise<StoredObject[]>;
  get(key: string): Promise<Uint8Array>;
  /**
   * `ifNoneMatch: '*'`: only as a new object; rejects if the key exists (S3 conditional write).
   * `encryptLike`: the objects it was made from (a rewrite, a merge), read through this store: it
   * takes their KMS key if they all have the same one, else the bucket's default. The processor
   * writes a dataset holding no PII under the general key, and a rewrite must not move it back
   * under the bucket's default (the PII key), which its readers cannot use. `kmsKeyId` names the
   * key outright.
   */
  put(key: string, body: Uint8Array, contentType: string, options?: PutOptions): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  /** An object's user metadata (S3 `x-amz-meta-*`, names in lower case). */
  metadataOf(key: string): Promise<Readonly<Record<string, string>>>;
  /**
   * Deletes the noncurrent versions of a key in a versioned bucket (a rewritten object's old
   * version still holds what was rewritten away). Resolves to how many were deleted, or
   * `'unsupported'` where the store keeps no versions.
   */
  purgeNoncurrentVersions(key: string): Promise<number | 'unsupported'>;
}
