/**
 * Redrive from the stream: the break-glass path for records the event source mapping gave up and
 * could not write to its on-failure destination (`DestinationDeliveryFailures`: the side-output
 * bucket refused them, as when its KMS key is disabled). Such records are nowhere but in the stream,
 * for the hour its retention runs past the mapping's maximum record age (or longer, once the
 * retention is raised: docs/operations.md, `StreamSource/LostRecordsAlarm`).
 *
 * Which records were lost, nothing says: the metric counts failed deliveries, and the records are
 * not written anywhere. So this sends back every record that arrived in a time window, of every
 * shard (or the shards named), in shard order, each under its partition key. That is exactly once
 * for the same reason as `redrive` (redrive.ts): to the processor each copy is a producer retry of
 * the record it copies, decided by its authority entity: a duplicate of a record that was decided
 * (kept in `duplicate/`), applied if the record never was and is within the allowed lateness, late
 * if it is older (kept in `late/`), never applied twice. A record its authority had decided, whose
 * other writes then failed and could not be parked, is a duplicate too: what failed stays undone. The records of the window that were applied
 * cost a duplicate decision each; narrow the window (`since`, `until`, `shards`) to what the
 * processor log names as failed to spare that. A record the copy of a parked entry (a redrive
 * envelope) goes back as it is, and completes its entry only if no copy has.
 *
 * The window ends, by default and at the latest, when the run starts: the copies it sends arrive
 * after that, and are never read back. Parents are read before their children (shard ids grow with resharding), so a
 * partition key's copies keep their order.
 */
import type { RawRecord, SendReport } from '../../clients/feature-event-producer.js';
import { notSent } from './redrive.js';

/** A record read from the stream. */
export interface StreamRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
  readonly sequenceNumber: string;
  /** When Kinesis took it (`ApproximateArrivalTimestamp`). */
  readonly arrivedAt: Date;
}

/** Reads the stream (offline/redrive/kinesis-stream-reader.ts). */
export interface StreamReader {
  /** Every shard of the stream still holding records, open or closed. */
  shardIds(): Promise<string[]>;
  /**
   * The shard's records that arrived at or after `since`, oldest first, a page at a time, until
   * `until` is passed, the shard's end (a closed shard) or its latest record.
   */
  read(shardId: string, since: Date, until: Date): AsyncIterable<readonly StreamRecord[]>;
}

export interface FromStreamDeps {
  readonly reader: StreamReader;
  /** Puts records into the stream, in order per partition key (`FeatureEventProducer.sendRaw`, strict ordering). */
  readonly send: (records: readonly RawRecord[]) => Promise<SendReport>;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface FromStreamOptions {
  /** The window's start: the arrival time of the first record to send back. */
  readonly since: Date;
  /** The window's end (exclusive), not after the run starts. @default when the run starts */
  readonly until?: Date;
  /**
   * Only these shards. After a reshard, name a child's parents too: a partition key's records of the
   * window may be in either. @default every shard
   */
  readonly shards?: readonly string[];
  /** Count what would be sent; send nothing. */
  readonly dryRun?: boolean;
}

export interface FromStreamReport {
  readonly since: string;
  readonly until: string;
  /** Per shard read: records in the window, records sent back, and the first one not sent, if any. */
  readonly shards: readonly {
    readonly shardId: string;
    readonly records: number;
    readonly sent: number;
    readonly firstUnsent?: { readonly sequenceNumber: string; readonly reason: string };
  }[];
  readonly records: number;
  readonly sent: number;
  readonly dryRun: boolean;
}

export class FromStreamError extends Error {
  override readonly name = 'FromStreamError';
}

export async function redriveFromStream(
  deps: FromStreamDeps,
  options: FromStreamOptions,
): Promise<FromStreamReport> {
  const started = new Date((deps.now ?? Date.now)());
  const until = options.until ?? started;
  const { since } = options;
  if (Number.isNaN(since.getTime()) || Number.isNaN(until.getTime()))
    throw new FromStreamError('since and until must be dates (ISO 8601)');
  // The copies arrive after the run starts: a window ending later would read them back, and send
  // them again, until the clock passed its end.
  if (until > started)
    throw new FromStreamError(
      `until (${until.toISOString()}) must not be after the run starts (${started.toISOString()})`,
    );
  if (since >= until)
    throw new FromStreamError(`since (${since.toISOString()}) must be before until (${until.toISOString()})`);
  const all = await deps.reader.shardIds();
  const unknown = (options.shards ?? []).filter((s) => !all.includes(s));
  if (unknown.length > 0)
    throw new FromStreamError(
      `no such shard in the stream: ${unknown.join(', ')} (it has ${all.join(', ')})`,
    );
  const chosen = options.shards ? all.filter((s) => options.shards?.includes(s)) : all;
  const dryRun = options.dryRun ?? false;
  const shards: FromStreamReport['shards'][number][] = [];
  // Shard ids grow with every split and merge: a parent's records go back before its children's.
  for (const shardId of [...chosen].sort()) {
    let records = 0;
    let sent = 0;
    let firstUnsent: { sequenceNumber: string; reason: string } | undefined;
    for await (const page of deps.reader.read(shardId, since, until)) {
      const inWindow = page.filter((r) => r.arrivedAt >= since && r.arrivedAt < until);
      records += inWindow.length;
      // After a record that was not sent, none of its shard is (their keys' order would break).
      if (dryRun || firstUnsent || inWindow.length === 0) continue;
      const report = await deps.send(inWindow.map((r) => ({ partitionKey: r.partitionKey, data: r.data })));
      sent += report.sent;
      const failed = notSent(report).sort((a, b) => a.index - b.index)[0];
      if (failed)
        firstUnsent = {
          sequenceNumber: (inWindow[failed.index] as StreamRecord).sequenceNumber,
          reason: failed.reason,
        };
    }
    shards.push({ shardId, records, sent, ...(firstUnsent ? { firstUnsent } : {}) });
  }
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    shards,
    records: shards.reduce((n, s) => n + s.records, 0),
    sent: shards.reduce((n, s) => n + s.sent, 0),
    dryRun,
  };
}
