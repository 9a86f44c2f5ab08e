import { ObjectExistsError } from '../../offline/errors.js';
import type { ObjectStore } from '../../offline/storage/object-store.js';

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
  async put(key: string, body: Uint8Array, _contentType?: string, options: { ifNoneMatch?: '*' } = {}) {
    if (options.ifNoneMatch && this.objects.has(key)) throw new ObjectExistsError(`${key} exists`);
    this.objects.set(key, body);
  }
  async delete(keys: readonly string[]) {
    for (const k of keys) this.objects.delete(k);
  }
  async purgeNoncurrentVersions(): Promise<'unsupported'> {
    return 'unsupported';
  }
  json(key: string) {
    return JSON.parse(new TextDecoder().decode(this.objects.get(key))) as Record<string, unknown>;
  }
}
