/**
 * The offline store's object storage, as the offline jobs need it. Contract: keys are exact (no
 * globbing); `list` returns every object under the prefix (all pages), in key order; `get` of a
 * missing key rejects with an ObjectStoreError; `delete` of a missing key succeeds.
 */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
}

export interface ObjectStore {
  /** A name for messages and audit records (the bucket). */
  readonly name: string;
  list(prefix: string): Promise<StoredObject[]>;
  get(key: string): Promise<Uint8Array>;
  /** `ifNoneMatch: '*'`: only as a new object; rejects if the key exists (S3 conditional write). */
  put(
    key: string,
    body: Uint8Array,
    contentType: string,
    options?: { readonly ifNoneMatch?: '*' },
  ): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  /**
   * Deletes the noncurrent versions of a key in a versioned bucket (a rewritten object's old
   * version still holds what was rewritten away). Resolves to how many were deleted, or
   * `'unsupported'` where the store keeps no versions.
   */
  purgeNoncurrentVersions(key: string): Promise<number | 'unsupported'>;
}
