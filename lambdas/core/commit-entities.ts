/**
 * Read-compute-write of entity states with optimistic concurrency: load, compute the new state
 * from what was read, save on the condition that nobody wrote in between; on a conflict, load
 * again and recompute (bounded, with jittered backoff). One write per entity per call, plus one per
 * companion item it changed (an authority's id buckets), saved before it: an entity is saved only
 * once all its changed companions are.
 */

import { emptyState } from './entity-state.js';
import { entityKeyOf } from './latest-values.js';
import type { EntityKey, EntityState, EntityStore, SaveResult, StoredEntity } from './ports.js';
import { isFailed } from './ports.js';

export interface Computed<D> {
  readonly state: EntityState;
  /** False when nothing changed: no write is made. */
  readonly changed: boolean;
  readonly info: D;
  /** Companion items changed (keys as entityKeyOf), saved before the entity. */
  readonly companionsChanged?: ReadonlySet<string>;
}

/** Items each entity's computation reads and may change besides the entity itself (each belongs to one entity). */
export interface Companions {
  readonly keysOf: (key: EntityKey) => readonly EntityKey[];
  readonly expiresAt: (key: EntityKey, state: EntityState) => number;
}

export type Committed<D> =
  | { readonly ok: true; readonly info: D }
  | { readonly ok: false; readonly error: Error };

export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

export interface CommitOptions {
  readonly maxAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly companions?: Companions;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function commitEntities<D>(
  store: EntityStore,
  keys: readonly EntityKey[],
  /**
   * May change `base` and the companion states: they are the caller's own copies (a store returns
   * copies; a conflict loads again). `companions` holds every key of `keysOf(key)`, empty if new.
   */
  compute: (key: EntityKey, base: EntityState, companions: ReadonlyMap<string, EntityState>) => Computed<D>,
  expiresAt: (key: EntityKey, state: EntityState) => number,
  options: CommitOptions = {},
): Promise<Map<string, Committed<D>>> {
  const results = new Map<string, Committed<D>>();
  const maxAttempts = options.maxAttempts ?? 8;
  const { companions } = options;
  let pending = [...keys];
  for (let attempt = 1; pending.length > 0; attempt++) {
    const companionKeys = companions ? pending.flatMap((k) => companions.keysOf(k)) : [];
    let loaded: Awaited<ReturnType<EntityStore['load']>>;
    let loadedCompanions: Awaited<ReturnType<EntityStore['load']>>;
    try {
      [loaded, loadedCompanions] = await Promise.all([
        store.load(pending),
        companionKeys.length > 0 ? store.load(companionKeys) : Promise.resolve([]),
      ]);
    } catch (error) {
      for (const k of pending) results.set(entityKeyOf(k), { ok: false, error: error as Error });
      break;
    }
    const companionOf = new Map<
      string,
      { key: EntityKey; stored: StoredEntity | undefined; state: EntityState }
    >();
    companionKeys.forEach((key, i) => {
      const stored = loadedCompanions[i];
      companionOf.set(entityKeyOf(key), { key, stored, state: stored?.state ?? emptyState() });
    });
    const computed = pending.map((key, i) => {
      const mine = new Map<string, EntityState>();
      if (companions)
        for (const k of companions.keysOf(key)) {
          const id = entityKeyOf(k);
          mine.set(id, (companionOf.get(id) as { state: EntityState }).state);
        }
      return { key, stored: loaded[i], out: compute(key, loaded[i]?.state ?? emptyState(), mine) };
    });
    const toSave = computed.filter((c) => c.out.changed);
    for (const c of computed)
      if (!c.out.changed) results.set(entityKeyOf(c.key), { ok: true, info: c.out.info });
    const conflicts: EntityKey[] = [];
    const fail = (key: EntityKey, result: SaveResult) =>
      results.set(entityKeyOf(key), {
        ok: false,
        error: isFailed(result) ? result.failed : new Error('no result'),
      });
    // Companions first: an entity whose companions did not all save is not saved (retried or failed).
    const companionWrites = toSave.flatMap((c) =>
      [...(c.out.companionsChanged ?? [])].map((id) => {
        const { key, stored, state } = companionOf.get(id) as NonNullable<ReturnType<typeof companionOf.get>>;
        return {
          owner: c,
          write: {
            key,
            state,
            expectedVersion: stored?.version ?? 0,
            expiresAt: (companions as Companions).expiresAt(key, state),
          },
        };
      }),
    );
    const blocked = new Map<(typeof toSave)[number], SaveResult>();
    if (companionWrites.length > 0) {
      const savedCompanions = await store.save(companionWrites.map((w) => w.write));
      savedCompanions.forEach((result, i) => {
        const { owner } = companionWrites[i] as (typeof companionWrites)[number];
        if (result === 'saved') return;
        // A failure outranks a conflict: a failed entity is not retried.
        const prior = blocked.get(owner);
        if (prior === undefined || prior === 'conflict') blocked.set(owner, result);
      });
    }
    for (const [c, result] of blocked) {
      if (result === 'conflict') conflicts.push(c.key);
      else fail(c.key, result);
    }
    const entityWrites = toSave.filter((c) => !blocked.has(c));
    const saved = await store.save(
      entityWrites.map((c) => ({
        key: c.key,
        state: c.out.state,
        expectedVersion: c.stored?.version ?? 0,
        expiresAt: expiresAt(c.key, c.out.state),
      })),
    );
    saved.forEach((result, i) => {
      const c = entityWrites[i] as (typeof entityWrites)[number];
      if (result === 'saved') results.set(entityKeyOf(c.key), { ok: true, info: c.out.info });
      else if (result === 'conflict') conflicts.push(c.key);
      else fail(c.key, result);
    });
    if (conflicts.length > 0 && attempt >= maxAttempts) {
      for (const k of conflicts) {
        results.set(entityKeyOf(k), {
          ok: false,
          error: new ConflictError(`${entityKeyOf(k)}: ${attempt} write conflicts`),
        });
      }
      break;
    }
    pending = conflicts;
    if (pending.length > 0)
      await (options.sleep ?? defaultSleep)(Math.random() * Math.min(1000, 10 * 2 ** attempt));
  }
  return results;
}
