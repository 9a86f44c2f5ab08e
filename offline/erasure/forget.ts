/**
 * Right to erasure (GDPR art. 17, UAE PDPL art. 15): removes an entity from the online store, the
 * offline datasets and the side outputs, and writes an audit record that holds no PII.
 *
 * Order: the entity's offline rows are read first (their event times tell where its id buckets
 * are; their event ids, which derived rows are its), then the online items and id buckets are
 * deleted, then the offline rows, what derives from them, the side outputs, the audit record. The
 * rows that locate everything else go last but one, so every step is idempotent and a run that fails
 * half way is run again and finishes the job (an earlier order removed the rows first, and a rerun
 * after a failed online step no longer found the id buckets).
 *
 * What it cannot reach (in the record's notes): records still in the Kinesis stream (retention,
 * 24 h by default), which a redelivery would apply again; DynamoDB point-in-time-recovery backups
 * (35 days) and noncurrent object versions where the caller may not delete versions.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SealedPayload } from '../../lambdas/core/ports.js';
import { PARKED_ROWS_PREFIX } from '../../lib/platform-spec.js';
import { DuckDbSession } from '../duckdb.js';
import { ObjectExistsError } from '../errors.js';
import { datasetName, datasetPrefix, historyDataset, type OfflineDataset } from '../layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { ident, str } from '../training/sql-text.js';
import { AUDIT_PREFIX, auditKey, type ErasureAudit } from './audit.js';
import type { OnlineEraser } from './online.js';
import { type RemovedRows, removeRows } from './remove-rows.js';
import { eraseSideOutputs } from './side-outputs.js';
import { idFingerprint, resolveErasureTarget } from './target.js';

export interface ForgetDeps {
  readonly offline: ObjectStore;
  readonly sideOutputs: ObjectStore;
  readonly online: OnlineEraser;
  /** Table name, for the record. */
  readonly onlineTable: string;
  readonly unseal?: (sealed: SealedPayload) => Promise<Uint8Array>;
  readonly now?: () => Date;
}

export interface ForgetRequest {
  /** `customer:<id>` */
  readonly entity: string;
  /** Who asked (an operator or ticket reference), for the record. */
  readonly requestedBy: string;
  /** @default a random UUID */
  readonly requestId?: string;
  /**
   * Rows of other groups computed from the entity's events (merchant history: amount, currency,
   * country of the merchant's transaction; no customer id). @default 'keep'
   */
  readonly derived?: 'keep' | 'drop';
}

export interface ForgetReport extends ErasureAudit {
  readonly auditKey: string;
  /** The record of this request for this entity was there already (a retry or a rerun): it stands. */
  readonly auditRecordExisted?: true;
}

export async function forget(request: ForgetRequest, deps: ForgetDeps): Promise<ForgetReport> {
  const now = deps.now ?? (() => new Date());
  const requestedAt = now().toISOString();
  const target = resolveErasureTarget(request.entity);
  await refuseWhileRowsParked(deps.sideOutputs, '');
  const requestId = request.requestId ?? randomUUID();
  const workDir = await mkdtemp(join(tmpdir(), 'fp-forget-'));
  const session = await DuckDbSession.open({ threads: 2 });
  try {
    const byColumn = (column: string) => `${ident(column)} = ${str(target.id)}`;
    const erasedEvents = new Map<string, string>(); // event id -> dt, of the entity's rows
    const eventTimes = new Set<number>(); // of the entity's rows: where its id buckets can be
    const noteErased = (events: RemovedRows['events']) => {
      for (const e of events) {
        erasedEvents.set(e.eventId, e.dt);
        eventTimes.add(e.eventTime);
      }
    };
    const derived: ErasureAudit['derived'][number][] = [];
    const linkDerived = async (action: 'kept' | 'dropped') => {
      if (target.derivedGroups.length === 0 || erasedEvents.size === 0) return;
      await loadErased(session, [...erasedEvents.keys()]);
      const dates = new Set(erasedEvents.values());
      for (const group of target.derivedGroups) {
        const dataset = historyDataset(group);
        const removed = await removeRows({
          store: deps.offline,
          session,
          prefix: datasetPrefix(dataset),
          predicate: 'event_id IN (SELECT event_id FROM __erased)',
          workDir,
          dates,
          dryRun: action === 'kept',
        });
        derived.push({ dataset: datasetName(dataset), action, rows: removed.rowsRemoved });
      }
    };
    /** The entity's rows of one dataset, removed (or only found, on a dry run). */
    const entityRows = (dataset: OfflineDataset, column: string, dryRun: boolean) =>
      removeRows({
        store: deps.offline,
        session,
        prefix: datasetPrefix(dataset),
        predicate: byColumn(column),
        workDir,
        dryRun,
      });
    // What the entity's rows say, read before anything is removed: a rerun after a failure at any
    // later step finds them again.
    for (const { dataset, column } of target.datasets)
      noteErased((await entityRows(dataset, column, true)).events);
    // Derived rows are found through the entity's event ids: drop them while those rows still exist
    // (a run that stopped after removing them could not link the derived ones any more).
    if (request.derived === 'drop') await linkDerived('dropped');

    // Online before offline: id buckets are found by the event times of the rows read above.
    const deleted = await deps.online.erase(
      target.groups.map((g) => ({ group: g.name, entityId: target.id })),
      [...eventTimes],
    );
    const online = target.groups.map((g, i) => ({
      table: deps.onlineTable,
      group: g.name,
      itemDeleted: deleted[i]?.itemDeleted ?? false,
      idBucketsDeleted: deleted[i]?.idBucketsDeleted ?? 0,
    }));

    const offline: ErasureAudit['offline'][number][] = [];
    for (const { dataset, column } of target.datasets) {
      const removed = await entityRows(dataset, column, false);
      noteErased(removed.events);
      const { events: _, ...counts } = removed;
      offline.push({ bucket: deps.offline.name, dataset: datasetName(dataset), ...counts });
    }
    if (request.derived !== 'drop') await linkDerived('kept');

    const sideOutputs = {
      bucket: deps.sideOutputs.name,
      ...(await eraseSideOutputs({
        store: deps.sideOutputs,
        id: target.id,
        ...(deps.unseal ? { unseal: deps.unseal } : {}),
        skip: deps.sideOutputs.name === deps.offline.name ? [AUDIT_PREFIX] : [],
      })),
    };

    // Again at the end: the processor may have parked objects while this ran (records it had been
    // retrying reached the park age); this request then has no record, and is run again after redrive.
    await refuseWhileRowsParked(deps.sideOutputs, ', some while this erasure ran,');

    const notes = [
      'records still in the Kinesis stream (retention period) are not reachable; a redelivery would apply them again: run this again after the retention period',
      'DynamoDB point-in-time-recovery backups keep deleted items until they age out (35 days)',
      "id buckets (event ids and record ids under the entity's key) are found by the event times of its offline rows; those of events late for every group expire within 9 days",
      ...(sideOutputs.unhandled.length
        ? [
            `${sideOutputs.unhandled.length} side-output objects of an unknown layout show the id and were left as they are`,
          ]
        : []),
      ...(deps.unseal
        ? []
        : ['sealed side-output payloads were judged by their partition key only (no PII key given)']),
      ...(offline.some((o) => o.versionsPurged === 'unsupported')
        ? ['the offline store keeps no object versions here: nothing to purge']
        : []),
    ];
    const audit: ErasureAudit = {
      kind: 'erasure',
      requestId,
      requestedBy: request.requestedBy,
      requestedAt,
      completedAt: now().toISOString(),
      entity: { name: target.entity, sha256: idFingerprint(target) },
      online,
      offline,
      derived,
      sideOutputs,
      notes,
    };
    const key = auditKey(audit);
    // As a new object only: an erasure record is never overwritten (the steward's role may not).
    // One that exists already was written by this request (an SDK retry after a lost response, or
    // a rerun with the same request id): it stands.
    let auditRecordExisted = false;
    try {
      await deps.offline.put(
        key,
        new TextEncoder().encode(`${JSON.stringify(audit, null, 2)}\n`),
        'application/json',
        { ifNoneMatch: '*' },
      );
    } catch (error) {
      if (!(error instanceof ObjectExistsError)) throw error;
      auditRecordExisted = true;
    }
    return { ...audit, auditKey: key, ...(auditRecordExisted ? { auditRecordExisted } : {}) };
  } finally {
    session.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

/**
 * Rows the processor parked (side-output bucket, parked-rows/) are Parquet that erasure does not read
 * there: they must be put in place (npm run redrive) for erasure to reach them.
 */
async function refuseWhileRowsParked(sideOutputs: ObjectStore, when: string): Promise<void> {
  const parked = await sideOutputs.list(PARKED_ROWS_PREFIX);
  if (parked.length > 0)
    throw new Error(
      `${parked.length} offline objects are parked${when} (${PARKED_ROWS_PREFIX} in the side-output bucket): ` +
        'run npm run redrive first, which puts them in the offline bucket, where erasure reaches their rows; ' +
        'then run this erasure (again)',
    );
}

/** The erased event ids as a table the predicates can read. */
async function loadErased(session: DuckDbSession, ids: readonly string[]): Promise<void> {
  await session.run('CREATE OR REPLACE TEMP TABLE __erased (event_id VARCHAR)');
  for (let i = 0; i < ids.length; i += 1000) {
    const values = ids.slice(i, i + 1000).map((id) => `(${str(id)})`);
    await session.run(`INSERT INTO __erased VALUES ${values.join(', ')}`);
  }
}
