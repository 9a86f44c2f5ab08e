/**
 * Redrive: the records the event source mapping gave up on (retries exhausted or too old), which its
 * S3 on-failure destination keeps under `aws/lambda/` in the side-output bucket with their payloads,
 * go back into the stream as they were sent, under their partition keys. Then each object is
 * deleted (a delete marker: the earlier version goes a day later, by the `aws/lambda/` prefix's
 * noncurrent-version rule, lib/data-stack.ts).
 *
 * Why that is exactly once: a redriven record is, to the processor, a producer retry of the record
 * it copies: the same event id and event time under a new sequence number. The event's authority
 * entity decides it as it decides any retry (lambdas/core/process-batch.ts): a duplicate if the
 * original was applied, applied if it never was and is within the allowed lateness, late (kept in
 * `late/`) if it is older, and past the id horizon decided late, never applied twice. So a redrive
 * that stops half way is simply run again, and an object is deleted only once all of its records
 * are back in the stream.
 *
 * What it cannot finish: a record whose authority entity saved its decision before a later part
 * failed until the record reached its maximum age is decided a duplicate of the record it copies:
 * its online effect on the authority stands, and what failed stays undone. The processor parks what
 * it can before that age (another group's entity: the record, for that group; an offline object:
 * the object, in parked-rows/, which this puts in place), so that takes a park failing too; its
 * duplicate entry names the given-up record as its owner, which is how to find them. A side-output
 * put failing for a day loses nothing: the copy is kept under its own outcome (a duplicate, late),
 * payload included (test/unit/side-output-given-up.test.ts).
 *
 * Parked records (`parked/`, lambdas/core/process-batch.ts step 7) are finished exactly, since the
 * processor knows what it applied of them when it parks them. Each goes back wrapped in a redrive
 * envelope naming its entry (lambdas/core/decode.ts), and the processor completes the entry with the
 * first copy that names the same bytes, then moves it to `parked-done/`:
 * - parked whole (its authority entity could not be written): nothing of it was applied, so the
 *   copy is decided as a producer retry of it would be;
 * - parked for some groups (another group's entity could not be written): the copy is applied to
 *   those groups alone.
 * Any other copy is decided by its authority, as a duplicate of the event. So a redrive run twice
 * sends an entry not yet completed twice, harmlessly; the entry stays until the processor completed it.
 * Their payloads are sealed under the PII key: redrive needs `unseal` (the key) to read them.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import type { RawRecord, SendReport } from '../../clients/feature-event-producer.js';
import type { SealedPayload } from '../../lambdas/core/ports.js';
import { padSequence } from '../../lambdas/core/sequence.js';
import {
  ON_FAILURE_PREFIX,
  PARKED_PREFIX,
  PARKED_ROWS_KMS_KEY_METADATA,
  PARKED_ROWS_PREFIX,
} from '../../lib/platform-spec.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface RedriveDeps {
  /** The side-output bucket. */
  readonly store: ObjectStore;
  /** The offline bucket, where parked offline objects (`parked-rows/`) go. Without it they are left. */
  readonly offline?: ObjectStore;
  /** Puts records into the stream, in order per partition key (`FeatureEventProducer.sendRaw`, strict ordering). */
  readonly send: (records: readonly RawRecord[]) => Promise<SendReport>;
  /** Opens a sealed payload (the PII key): parked records are kept sealed. Without it they are left. */
  readonly unseal?: (sealed: SealedPayload) => Promise<Uint8Array>;
}

export interface RedriveOptions {
  /** @default 'aws/lambda/' (where AWS's S3 on-failure destination writes) */
  readonly prefix?: string;
  /** @default 'parked/' (where the processor parks records) */
  readonly parkedPrefix?: string;
  /** Count what would be redriven; send and delete nothing. */
  readonly dryRun?: boolean;
}

export interface RedriveReport {
  readonly objects: number;
  readonly records: number;
  /** Records back in the stream. */
  readonly sent: number;
  /** Objects deleted (every record of them sent); their earlier version goes a day later. */
  readonly objectsDeleted: number;
  /** Objects kept: some records were not taken (throttling; run again) or refused by Kinesis. */
  readonly kept: readonly { readonly key: string; readonly reason: string }[];
  /** Objects under the prefixes that are not on-failure records or parked entries (left as they are). */
  readonly unreadable: readonly string[];
  /**
   * Parked records: how many there were, and how many went back into the stream for the processor
   * to complete (it moves each entry to parked-done/ once it has). Those it could not send or read
   * are in `kept`.
   */
  readonly parked: { readonly entries: number; readonly sent: number };
  /**
   * Offline objects the processor parked (`parked-rows/`): how many there were, and how many were
   * put in place in the offline bucket (under their own key and KMS key) and removed from parked-rows/.
   */
  readonly parkedRows: { readonly objects: number; readonly restored: number };
  readonly dryRun: boolean;
}

/** What redrive reads of a parked entry (lambdas/adapters/s3-side-output.ts writes it). */
interface ParkedDocument {
  readonly kind?: string;
  readonly partitionKey?: string;
  readonly data?: string;
  readonly sealedData?: SealedPayload;
}

interface OnFailureObject {
  readonly payload?: { readonly Records?: readonly KinesisStreamRecord[] };
}

/** The records of an on-failure object, oldest first, or undefined if it is not one. */
function recordsOf(bytes: Uint8Array): KinesisStreamRecord[] | undefined {
  let doc: OnFailureObject;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes)) as OnFailureObject;
  } catch {
    return undefined;
  }
  const records = doc?.payload?.Records;
  if (!Array.isArray(records)) return undefined;
  const valid = records.every(
    (r) =>
      typeof r?.kinesis?.partitionKey === 'string' &&
      typeof r.kinesis.data === 'string' &&
      typeof r.kinesis.sequenceNumber === 'string',
  );
  if (!valid) return undefined;
  return [...records].sort((a, b) =>
    padSequence(a.kinesis.sequenceNumber) < padSequence(b.kinesis.sequenceNumber) ? -1 : 1,
  );
}

/** The records a send did not put into the stream, by their position in it and why: refused ones first. */
export const notSent = (report: SendReport): { index: number; reason: string }[] => [
  ...report.rejected.map((r) => ({ index: r.index, reason: `refused: ${r.reason}` })),
  ...report.unsent.map((u) => ({ index: u.index, reason: `not taken: ${u.errorCode}` })),
];

export async function redrive(deps: RedriveDeps, options: RedriveOptions = {}): Promise<RedriveReport> {
  const prefix = options.prefix ?? ON_FAILURE_PREFIX;
  const dryRun = options.dryRun ?? false;
  let records = 0;
  let sent = 0;
  let objectsDeleted = 0;
  const kept: { key: string; reason: string }[] = [];
  const unreadable: string[] = [];
  // Keys hold the shard and the time of the give-up: in key order (list's), a shard's records go
  // back in order.
  const objects = await deps.store.list(prefix);
  for (const { key } of objects) {
    const batch = recordsOf(await deps.store.get(key));
    if (!batch) {
      unreadable.push(key);
      continue;
    }
    records += batch.length;
    if (dryRun || batch.length === 0) continue;
    const report = await deps.send(
      batch.map((r) => ({
        partitionKey: r.kinesis.partitionKey,
        data: new Uint8Array(Buffer.from(r.kinesis.data, 'base64')),
      })),
    );
    sent += report.sent;
    if (report.sent < batch.length) {
      kept.push({
        key,
        reason: `${batch.length - report.sent} of ${batch.length} records not sent (${notSent(report)[0]?.reason})`,
      });
      continue;
    }
    await deps.store.delete([key]);
    objectsDeleted++;
  }
  const parked = await redriveParked(deps, options.parkedPrefix ?? PARKED_PREFIX, dryRun, kept, unreadable);
  const parkedRows = await restoreParkedRows(deps, dryRun, kept);
  return {
    objects: objects.length,
    records,
    sent,
    objectsDeleted,
    kept,
    unreadable,
    parked,
    parkedRows,
    dryRun,
  };
}

/**
 * Offline objects the processor parked (process-batch.ts step 8): each is put at its offline key,
 * under the KMS key its metadata names (its dataset's; none: the offline bucket's default), then
 * removed from parked-rows/. Objects are named after their records' batch, so one put twice (a run
 * that stopped before the removal) is the same object. One that cannot be put in place is kept,
 * and said why.
 */
async function restoreParkedRows(
  deps: RedriveDeps,
  dryRun: boolean,
  kept: { key: string; reason: string }[],
): Promise<RedriveReport['parkedRows']> {
  const objects = await deps.store.list(PARKED_ROWS_PREFIX);
  let restored = 0;
  if (dryRun) return { objects: objects.length, restored };
  for (const { key } of objects) {
    if (!deps.offline) {
      kept.push({ key, reason: 'a parked offline object, and no offline bucket was given' });
      continue;
    }
    try {
      const kmsKeyId = (await deps.store.metadataOf(key))[PARKED_ROWS_KMS_KEY_METADATA];
      await deps.offline.put(key.slice(PARKED_ROWS_PREFIX.length), await deps.store.get(key), PARQUET, {
        ...(kmsKeyId ? { kmsKeyId } : {}),
      });
      await deps.store.delete([key]);
      restored++;
    } catch (error) {
      kept.push({ key, reason: `a parked offline object not put in place: ${(error as Error).message}` });
    }
  }
  return { objects: objects.length, restored };
}

const PARQUET = 'application/vnd.apache.parquet';

/** A parked record, wrapped for the processor to complete its entry (decode.ts). */
export const completionEnvelope = (parkedKey: string, payload: Uint8Array): Uint8Array =>
  new TextEncoder().encode(
    JSON.stringify({ redrive: { parked: parkedKey }, data: Buffer.from(payload).toString('base64') }),
  );

async function redriveParked(
  deps: RedriveDeps,
  prefix: string,
  dryRun: boolean,
  kept: { key: string; reason: string }[],
  unreadable: string[],
): Promise<RedriveReport['parked']> {
  let entries = 0;
  let sent = 0;
  // In key order: per shard, by sequence number (keys hold both), so a shard's records go back in order.
  for (const { key } of await deps.store.list(prefix)) {
    let doc: ParkedDocument;
    try {
      doc = JSON.parse(new TextDecoder().decode(await deps.store.get(key))) as ParkedDocument;
    } catch {
      unreadable.push(key);
      continue;
    }
    if (doc.kind !== 'parked' || typeof doc.partitionKey !== 'string') {
      unreadable.push(key);
      continue;
    }
    entries++;
    if (dryRun) continue;
    let payload: Uint8Array;
    if (typeof doc.data === 'string') payload = new Uint8Array(Buffer.from(doc.data, 'base64'));
    else if (doc.sealedData && deps.unseal) {
      try {
        payload = await deps.unseal(doc.sealedData);
      } catch (error) {
        kept.push({ key, reason: `its payload cannot be unsealed: ${(error as Error).message}` });
        continue;
      }
    } else {
      kept.push({ key, reason: 'its payload is sealed: give the PII key (PII_SEAL_KEY, --pii-kms-key-id)' });
      continue;
    }
    const report = await deps.send([
      { partitionKey: doc.partitionKey, data: completionEnvelope(key, payload) },
    ]);
    if (report.sent < 1) {
      const why = report.rejected[0]?.reason ?? report.unsent[0]?.errorCode ?? 'not taken';
      kept.push({ key, reason: `parked record not sent (${why})` });
      continue;
    }
    sent++;
  }
  return { entries, sent };
}
