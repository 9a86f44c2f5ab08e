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
 * failed through every retry (another group's entity, the offline or the side-output put) is decided
 * a duplicate of the record it copies: its online effect on the authority stands, but its feature
 * history and raw-event rows, and its update of the other groups' entities if that is what failed,
 * stay undone. When the cause is an outage of those later writes (the offline bucket refusing every
 * put, say), that is every record of the batches given up meanwhile, not an exception. Its duplicate
 * entry names the given-up record as its owner, which is how to find them; finishing them needs
 * per-record completion the processor does not keep yet (see the README's guarantees).
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import type { RawRecord, SendReport } from '../../clients/feature-event-producer.js';
import { padSequence } from '../../lambdas/core/sequence.js';
import { ON_FAILURE_PREFIX } from '../../lib/platform-spec.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface RedriveDeps {
  /** The side-output bucket. */
  readonly store: ObjectStore;
  /** Puts records into the stream, in order per partition key (`FeatureEventProducer.sendRaw`, strict ordering). */
  readonly send: (records: readonly RawRecord[]) => Promise<SendReport>;
}

export interface RedriveOptions {
  /** @default 'aws/lambda/' (where AWS's S3 on-failure destination writes) */
  readonly prefix?: string;
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
  /** Objects under the prefix that are not on-failure records (left as they are). */
  readonly unreadable: readonly string[];
  readonly dryRun: boolean;
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
      const why = [
        ...report.rejected.map((r) => `refused: ${r.reason}`),
        ...report.unsent.map((u) => `not taken: ${u.errorCode}`),
      ];
      kept.push({
        key,
        reason: `${batch.length - report.sent} of ${batch.length} records not sent (${why[0]})`,
      });
      continue;
    }
    await deps.store.delete([key]);
    objectsDeleted++;
  }
  return {
    objects: objects.length,
    records,
    sent,
    objectsDeleted,
    kept,
    unreadable,
    dryRun,
  };
}
