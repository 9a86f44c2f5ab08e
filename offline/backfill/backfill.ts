/**
 * Backfill: recompute the online store from the raw event history, by replaying the stored events
 * through the processor core (`processBatch`) on a synthetic shard (see replay.ts). Everything the
 * stream path guarantees holds here too, because it is the same code: latest values only move
 * forward in event time (an older event never overwrites a fresher value), windows count each
 * event once (the authority entity's event ids catch events the stream already applied), a re-run
 * is a no-op (per-entity checkpoint of the replay shard), and events older than an entity's
 * watermark minus the allowed lateness are late, not applied.
 *
 * Partitions are replayed in date order and, within one, in event-time order, in batches. Side
 * outputs of the replay (late, duplicate) are counted, not stored: they are not news. The feature
 * history is not written again unless asked (it holds these events already).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EntityStore, OfflineSink, PutResult, SideOutput } from '../../lambdas/core/ports.js';
import { type Outcome, processBatch } from '../../lambdas/core/process-batch.js';
import { type EventContract, eventColumns, type FeatureGroup, groupsFedBy } from '../../schemas/index.js';
import { DuckDbSession } from '../duckdb.js';
import { OfflineError } from '../errors.js';
import { eventIdentitySql } from '../event-identity.js';
import { eventsDataset, partitionPrefix, utcDatesBetween } from '../layout.js';
import { download } from '../storage/fetch.js';
import type { ObjectStore } from '../storage/object-store.js';
import { eventsView, registerEvents } from '../training/local-sources.js';
import { ident } from '../training/sql-text.js';
import { passThroughTokenizer, replayContract, replayRecord } from './replay.js';

export interface BackfillRequest {
  readonly contract: EventContract;
  /** First and last event date (UTC, yyyy-mm-dd), inclusive. */
  readonly from: string;
  readonly to: string;
  /** Names the replay shard (`backfill-<run>`); a new name replays everything again (e.g. after a reset). @default contract name */
  readonly run?: string;
  /** @default 500 */
  readonly batchSize?: number;
  /** Only these groups (with the contract's authority group, which decides duplicates). @default all fed by the contract */
  readonly groups?: readonly FeatureGroup[];
}

export interface BackfillDeps {
  readonly rawEvents: ObjectStore;
  readonly entities: EntityStore;
  /** Where replayed feature history goes. @default nowhere (the history holds these events already) */
  readonly offline?: OfflineSink;
}

export interface BackfillReport {
  readonly shardId: string;
  readonly partitions: number;
  readonly events: number;
  readonly batches: number;
  readonly outcomes: Readonly<Record<Outcome, number>>;
}

const nowhere: OfflineSink & SideOutput = {
  append: async (b) => b.map((): PutResult => 'stored'),
  put: async (e) => e.map((): PutResult => 'stored'),
  // A replay carries no redrives, and parks nothing (a refusal stops it, below).
  parked: async (keys) => keys.map(() => undefined),
  completeParked: async (done) => done.map((): PutResult => 'stored'),
  narrowParked: async (n) => n.map((): PutResult => 'stored'),
  unparkGroups: async (n) => n.map((): PutResult => 'stored'),
};

export async function backfill(request: BackfillRequest, deps: BackfillDeps): Promise<BackfillReport> {
  const { contract } = request;
  const shardId = `backfill-${request.run ?? contract.name}`;
  const replay = replayContract(contract);
  const fed = groupsFedBy(contract.name).filter(
    (g) => !request.groups || request.groups.includes(g) || g.entity.field === contract.partitionKeyField,
  );
  const processorDeps = {
    contracts: new Map([[contract.name, replay]]),
    groupsFedBy: (name: string) => (name === contract.name ? fed : []),
    entities: deps.entities,
    offline: deps.offline ?? nowhere,
    sideOutput: nowhere,
    tokenizer: passThroughTokenizer,
  };
  const outcomes: Record<Outcome, number> = { applied: 0, duplicate: 0, quarantined: 0, late: 0 };
  let events = 0;
  let batches = 0;
  let partitions = 0;
  const workDir = await mkdtemp(join(tmpdir(), 'fp-backfill-'));
  const session = await DuckDbSession.open({ threads: 2 });
  try {
    const dates = utcDatesBetween(
      Date.parse(`${request.from}T00:00:00Z`),
      Date.parse(`${request.to}T00:00:00Z`),
    );
    for (const dt of dates) {
      const objects = (await deps.rawEvents.list(partitionPrefix(eventsDataset(contract), dt))).filter((o) =>
        o.key.endsWith('.parquet'),
      );
      if (objects.length === 0) continue;
      partitions++;
      const dir = await mkdtemp(join(workDir, `${dt}-`));
      const { files } = await download(deps.rawEvents, objects, dir);
      await registerEvents(session, contract, files);
      const columns = eventColumns(contract).map((c) =>
        c.type === 'timestamp' ? `epoch_ms(${ident(c.name)}) AS ${ident(c.name)}` : ident(c.name),
      );
      // One row per event (its first arrival), in event-time order.
      const rows = await session.rows(
        `SELECT ${columns.join(', ')} FROM ${ident(eventsView(contract.name))} ` +
          `QUALIFY row_number() OVER (PARTITION BY ${eventIdentitySql()} ORDER BY ingestion_time) = 1`,
      );
      await rm(dir, { recursive: true, force: true });
      const records = rows
        .map((row) => replayRecord(contract, shardId, row))
        .sort((a, b) => (a.sequenceNumber < b.sequenceNumber ? -1 : 1));
      const size = request.batchSize ?? 500;
      for (let i = 0; i < records.length; i += size) {
        const batch = records.slice(i, i + size);
        let result = await processBatch(batch, processorDeps);
        // A failed record and everything after it is redone, as Lambda redelivers: the core makes it harmless.
        for (let attempt = 1; result.failed.length > 0; attempt++) {
          if (attempt >= 5)
            throw new OfflineError(
              `backfill of ${dt} failed: ${result.errors.map((e) => e.message).join('; ')}`,
            );
          const again = batch.filter((r) => result.failed.includes(r.sequenceNumber));
          const retry = await processBatch(again, processorDeps);
          for (const [k, n] of Object.entries(result.counts)) outcomes[k as Outcome] += n;
          result = retry;
        }
        // A record an entity refused for good (process-batch.ts, step 7) has nowhere to be parked in a
        // replay: the backfill stops, naming the cause; run again (from this date) once it is fixed.
        if (result.parked > 0)
          throw new OfflineError(
            `backfill of ${dt}: ${result.parked} event(s) refused for good by an entity: ` +
              result.parkErrors.map((e) => e.message).join('; '),
          );
        for (const [k, n] of Object.entries(result.counts)) outcomes[k as Outcome] += n;
        events += batch.length;
        batches++;
      }
    }
    return { shardId, partitions, events, batches, outcomes };
  } finally {
    session.close();
    await rm(workDir, { recursive: true, force: true });
  }
}
