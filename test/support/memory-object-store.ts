import { ObjectExistsError } from '../../offline/errors.js';
import { type ObjectStore, type PutOptions, sharedKmsKey } from '../../offline/storage/object-store.js';

/** A plain in-memory object store (no versions). */
export class MemoryObjectStore implements ObjectStore {
  readonly name = 'side-outputs';
  readonly objects = new Map<string, Uint8Array>();
  async list(prefix: string) {
    return [...this.objects.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort()
      .map((key) => ({ key, size: this.objects.get(key)?.length ?? 0 }));
  }
  async get(key: string) {
    const o = this.objects.get(key);
    if (!o) throw new Error(`no ${key}`);
    return o;
  }
  /** The KMS key of each object written with one (S3 SSE-KMS); absent: the bucket's default. */
  readonly kmsKeys = new Map<string, string>();
  async put(key: string, body: Uint8Array, _contentType?: string, options: PutOptions = {}) {
    if (options.ifNoneMatch && this.objects.has(key)) throw new ObjectExistsError(`${key} exists`);
    this.objects.set(key, body);
    const keyId =
      options.kmsKeyId ??
      (options.encryptLike && sharedKmsKey(options.encryptLike.map((k) => this.kmsKeys.get(k))));
    if (keyId) this.kmsKeys.set(key, keyId);
    else this.kmsKeys.delete(key);
  }
  /** User metadata of each object that has some (S3 `x-amz-meta-*`). */
  readonly metadata = new Map<string, Record<string, string>>();
  async metadataOf(key: string) {
    return this.metadata.get(key) ?? {};
  }
  async delete(keys: readonly string[]) {
    for (const k of keys) {
      this.objects.delete(k);
      this.kmsKeys.delete(k);
      this.metadata.delete(k);
    }
  }
  async purgeNoncurrentVersions(): Promise<'unsupported'> {
    return 'unsupported';
  }
  json(key: string) {
    return JSON.parse(new TextDecoder().decode(this.objects.get(key))) as Record<string, unknown>;
  }
}
