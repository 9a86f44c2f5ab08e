/**
 * Erasure in the side-output bucket: quarantine, late and duplicate entries (one JSON object per
 * record) of records keyed by the entity, or whose payload names it, are deleted; the event source
 * mapping's on-failure objects (`aws/lambda/...`, a whole batch each, payloads in the clear as AWS
 * writes them) are rewritten without those records. Sealed payloads are only looked into when an
 * unsealer (the PII key holder) is given. Any other object that still shows the id is reported,
 * never silently left.
 */
import type { SealedPayload } from '../../lambdas/core/ports.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface SideOutputErasure {
  readonly objectsScanned: number;
  readonly entriesDeleted: number;
  readonly batchesRewritten: number;
  readonly recordsRemoved: number;
  readonly versionsPurged: number | 'unsupported';
  /** Keys of objects that show the id in a layout this job does not know (left as they are). */
  readonly unhandled: readonly string[];
}

interface KinesisRecordLike {
  readonly kinesis?: { readonly partitionKey?: string; readonly data?: string };
}

const decoded = (base64: string | undefined) =>
  base64 ? Buffer.from(base64, 'base64').toString('utf8') : '';

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether `text` shows `id` as a whole token: not as the start or the end of a longer one. Ids are
 * letters, digits and underscores (`cus_0001`), so erasing `cus_0001` must not take the records of
 * `cus_00012` (a substring test did, and with them whole on-failure batches of other customers).
 * A token still counts inside a larger value, as in `cus_0001@example.ae`.
 */
export function showsId(text: string, id: string): boolean {
  if (!text.includes(id)) return false;
  return new RegExp(`(?<![A-Za-z0-9_])${escapeRegExp(id)}(?![A-Za-z0-9_])`).test(text);
}

export async function eraseSideOutputs(input: {
  readonly store: ObjectStore;
  readonly id: string;
  /** Opens a sealed payload (the PII key holder); without it, sealed payloads are judged by their partition key. */
  readonly unseal?: (sealed: SealedPayload) => Promise<Uint8Array>;
  /** Keys under these prefixes are not looked at (e.g. the audit trail). */
  readonly skip?: readonly string[];
}): Promise<SideOutputErasure> {
  const { store, id } = input;
  let objectsScanned = 0;
  let entriesDeleted = 0;
  let batchesRewritten = 0;
  let recordsRemoved = 0;
  const unhandled: string[] = [];
  const changed: string[] = [];
  const names = async (entry: { partitionKey?: string; data?: string; sealedData?: SealedPayload }) => {
    if (entry.partitionKey === id || showsId(decoded(entry.data), id)) return true;
    if (entry.sealedData && input.unseal)
      return showsId(Buffer.from(await input.unseal(entry.sealedData)).toString('utf8'), id);
    return false;
  };
  for (const o of await store.list('')) {
    if (input.skip?.some((p) => o.key.startsWith(p))) continue;
    objectsScanned++;
    const text = new TextDecoder().decode(await store.get(o.key));
    let doc: Record<string, unknown> | undefined;
    try {
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch {
      doc = undefined;
    }
    const records = (doc?.payload as { Records?: KinesisRecordLike[] } | undefined)?.Records;
    if (doc && Array.isArray(records)) {
      const keep = records.filter(
        (r) => r.kinesis?.partitionKey !== id && !showsId(decoded(r.kinesis?.data), id),
      );
      if (keep.length === records.length) continue;
      recordsRemoved += records.length - keep.length;
      if (keep.length === 0) {
        await store.delete([o.key]);
        entriesDeleted++;
      } else {
        const info = doc.KinesisBatchInfo as Record<string, unknown> | undefined;
        const rewritten = {
          ...doc,
          ...(info ? { KinesisBatchInfo: { ...info, batchSize: keep.length } } : {}),
          payload: { ...(doc.payload as object), Records: keep },
        };
        await store.put(o.key, new TextEncoder().encode(JSON.stringify(rewritten)), 'application/json');
        batchesRewritten++;
      }
      changed.push(o.key);
      continue;
    }
    if (doc && typeof doc.kind === 'string' && typeof doc.recordId === 'string') {
      if (await names(doc as never)) {
        await store.delete([o.key]);
        entriesDeleted++;
        changed.push(o.key);
      }
      continue;
    }
    if (showsId(text, id)) unhandled.push(o.key);
  }
  let purged = 0;
  let versioned = true;
  for (const key of changed) {
    const n = await store.purgeNoncurrentVersions(key);
    if (n === 'unsupported') versioned = false;
    else purged += n;
  }
  return {
    objectsScanned,
    entriesDeleted,
    batchesRewritten,
    recordsRemoved,
    versionsPurged: versioned ? purged : 'unsupported',
    unhandled,
  };
}
