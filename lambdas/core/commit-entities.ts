/**
 * Read-compute-write of entity states with optimistic concurrency: load, compute the new state
 * from what was read, save on the condition that nobody wrote in between; on a conflict, load
 * again and recompute (bounded, with jittered backoff). One write per entity per call. Companion
 * items (an authority's id buckets) are loaded after their entity at every attempt (which ones may
 * depend on what the entity holds), read-only; what a computation writes elsewhere it writes in
 * `beforeSave`, which runs before the entities are saved.
 */

import { emptyState } from './entity-state.js';
import { entityKeyOf } from './latest-values.js';
import type { EntityKey, EntityState, EntityStore, StoredEntity } from './ports.js';
import { isFailed } from './ports.js';

export interface Computed<D> {
  readonly state: EntityState;
  /** False when nothing changed: no write is made. */
  readonly changed: boolean;
  readonly info: D;
}

export type Committed<D> =
  | { readonly ok: true; readonly info: D }
  | { readonly ok: false; readonly error: Error };

export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/**
 * The computation threw on an entity: a defect met by that entity's data, which every retry would
 * meet again (ports.ts `isPermanent`). The entity is not written; the others go on.
 */
export class ComputeError extends Error {
  override readonly name = 'ComputeError';
  readonly permanent = true;
}

export interface CommitOptions<D> {
  readonly maxAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Items each entity's computation also reads (each belongs to one entity), loaded at every
   * attempt once the entity is: `stored` is the entity as just read (undefined if never written).
   */
  readonly companions?: (key: EntityKey, stored: StoredEntity | undefined) => readonly EntityKey[];
  /**
   * Writes a computation makes elsewhere, before its entity is saved; may still change the state to
   * save. Entities it answers with an error (by `entityKeyOf`) are not saved: they fail with it.
   */
  readonly beforeSave?: (
    computed: readonly { key: EntityKey; out: Computed<D> }[],
  ) => Promise<ReadonlyMap<string, Error> | undefined>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function commitEntities<D>(
  store: EntityStore,
  keys: readonly EntityKey[],
  /**
   * May change `base`: it is the caller's own copy (a store returns copies; a conflict loads again).
   * `companions` holds the state of every key of `options.companions(key, stored)`, empty if never written.
   */
  compute: (key: EntityKey, base: EntityState, companions: ReadonlyMap<string, EntityState>) => Computed<D>,
  expiresAt: (key: EntityKey, state: EntityState) => number,
  options: CommitOptions<D> = {},
): Promise<Map<string, Committed<D>>> {
  const results = new Map<string, Committed<D>>();
  const maxAttempts = options.maxAttempts ?? 8;
  const companionsOf = options.companions;
  let pending = [...keys];
  for (let attempt = 1; pending.length > 0; attempt++) {
    let loaded: (StoredEntity | undefined)[];
    let companionKeys: (readonly EntityKey[])[];
    let loadedCompanions: (StoredEntity | undefined)[];
    try {
      loaded = await store.load(pending);
      companionKeys = pending.map((k, i) => companionsOf?.(k, loaded[i]) ?? []);
      const all = companionKeys.flat();
      loadedCompanions = all.length > 0 ? await store.load(all) : [];
    } catch (error) {
      for (const k of pending) results.set(entityKeyOf(k), { ok: false, error: error as Error });
      break;
    }
    let next = 0;
    const computed: { key: EntityKey; stored: StoredEntity | undefined; out: Computed<D> }[] = [];
    pending.forEach((key, i) => {
      const mine = new Map<string, EntityState>();
      for (const k of companionKeys[i] ?? [])
        mine.set(entityKeyOf(k), loadedCompanions[next++]?.state ?? emptyState());
      try {
        computed.push({ key, stored: loaded[i], out: compute(key, loaded[i]?.state ?? emptyState(), mine) });
      } catch (error) {
        const cause = error instanceof Error ? error : new Error(String(error));
        // The cause's message may quote the data it failed on: kept as the cause, out of this message.
        const failure = new ComputeError(`computing ${entityKeyOf(key)} failed (${cause.name})`, { cause });
        results.set(entityKeyOf(key), { ok: false, error: failure });
      }
    });
    let toSave = computed.filter((c) => c.out.changed);
    for (const c of computed)
      if (!c.out.changed) results.set(entityKeyOf(c.key), { ok: true, info: c.out.info });
    const unsaved = options.beforeSave && toSave.length > 0 ? await options.beforeSave(toSave) : undefined;
    if (unsaved && unsaved.size > 0) {
      for (const [k, error] of unsaved) results.set(k, { ok: false, error });
      toSave = toSave.filter((c) => !unsaved.has(entityKeyOf(c.key)));
    }
    const saved = await store.save(
      toSave.map((c) => ({
        key: c.key,
        state: c.out.state,
        expectedVersion: c.stored?.version ?? 0,
        expiresAt: expiresAt(c.key, c.out.state),
      })),
    );
    const conflicts: EntityKey[] = [];
    saved.forEach((result, i) => {
      const c = toSave[i] as (typeof toSave)[number];
      if (result === 'saved') results.set(entityKeyOf(c.key), { ok: true, info: c.out.info });
      else if (result === 'conflict') conflicts.push(c.key);
      else
        results.set(entityKeyOf(c.key), {
          ok: false,
          error: isFailed(result) ? result.failed : new Error('no result'),
        });
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
