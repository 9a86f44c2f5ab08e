/**
 * Fault injection for the processor's ports: wrappers around real EntityStore / OfflineSink /
 * SideOutput implementations that make chosen writes fail (`{ failed }`, nothing written), answer a
 * write conflict (nothing written), or crash the invocation after some writes really happened (the
 * wrapper forwards them, then throws `InjectedCrash`, as a Lambda that dies mid-batch).
 *
 * A `FaultPlan` describes what goes wrong during one invocation; `faultyDeps` builds that
 * invocation's ports with their own counters, so concurrent invocations do not share a plan.
 */
import type {
  EntityStore,
  EntityWrite,
  IdBucketWrite,
  OfflineBatch,
  OfflineSink,
  PutResult,
  SaveResult,
  SideOutput,
  SideOutputEntry,
} from '../../lambdas/core/ports.js';
import type { ProcessorDeps } from '../../lambdas/core/process-batch.js';

/** A crash the test caused on purpose (a real error thrown by the processor is never one). */
export class InjectedCrash extends Error {
  override readonly name = 'InjectedCrash';
}

/** What goes wrong during one invocation. Write indices count from 0 across the invocation's calls. */
export interface FaultPlan {
  /** Entity writes answered `{ failed }` (not written), by index. */
  readonly failEntityWrites?: readonly number[];
  /** Entity writes answered `'conflict'` (not written), by index: the caller must re-read and recompute. */
  readonly conflictEntityWrites?: readonly number[];
  /** The invocation crashes right after its N-th entity write was stored (N >= 1). */
  readonly crashAfterEntityWrites?: number;
  /** The first entity load of the invocation throws (a timeout before anything was read). */
  readonly failLoad?: boolean;
  /** Offline objects answered `{ failed }` (not stored), by index. */
  readonly failOfflinePuts?: readonly number[];
  /** The invocation crashes right after its N-th offline object was stored (N >= 1). */
  readonly crashAfterOfflinePuts?: number;
  /** Side-output entries answered `{ failed }` (not stored), by index. */
  readonly failSidePuts?: readonly number[];
  /** The invocation crashes right after its N-th side-output entry was stored (N >= 1). */
  readonly crashAfterSidePuts?: number;
  /** Microtask yields before each store call, so concurrent invocations interleave differently. */
  readonly yields?: number;
}

const pause = async (n = 0) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

type Verdict = 'pass' | 'fail' | 'conflict';

/**
 * Forwards the writes a plan lets through to `inner` (in one call, preserving order), answers the
 * others, and throws once a crash point is reached (after forwarding the writes up to it).
 */
async function forward<W, R>(
  writes: readonly W[],
  counter: { n: number },
  verdictOf: (index: number) => Verdict,
  crashAfterIndex: (index: number) => boolean,
  inner: (ws: readonly W[]) => Promise<R[]>,
  answer: (v: Exclude<Verdict, 'pass'>, index: number) => R,
  what: string,
): Promise<R[]> {
  const planned = writes.map((w) => {
    const index = counter.n++;
    return { w, index, verdict: verdictOf(index) };
  });
  const crashAt = planned.findIndex((p) => p.verdict === 'pass' && crashAfterIndex(p.index));
  const upTo = crashAt >= 0 ? planned.slice(0, crashAt + 1) : planned;
  const passing = upTo.filter((p) => p.verdict === 'pass');
  const stored = await inner(passing.map((p) => p.w));
  if (crashAt >= 0) throw new InjectedCrash(`crash after ${(planned[crashAt]?.index ?? 0) + 1} ${what}`);
  let next = 0;
  return planned.map((p) => (p.verdict === 'pass' ? (stored[next++] as R) : answer(p.verdict, p.index)));
}

/** Faults spread over a whole run, by the store's cumulative write count (not per invocation). */
export interface RunFaults {
  /** The invocation crashes right after the write with this (1-based) number was stored. */
  readonly crashAfterWrites: readonly number[];
  /** Every Nth write comes back `{ failed }` (not written). @default never */
  readonly failEvery?: number;
}

/** An entity store that crashes its caller after chosen writes and fails some, over a whole run. */
export class FaultyEntityStore implements EntityStore {
  readonly written = { n: 0 };
  crashes = 0;
  failures = 0;
  /** Id bucket writes asked for (moves of ids out of entity items). */
  idMoves = 0;
  constructor(
    private readonly inner: EntityStore,
    private readonly faults: RunFaults,
  ) {}

  load(...args: Parameters<EntityStore['load']>): ReturnType<EntityStore['load']> {
    return this.inner.load(...args);
  }

  get writeUnits() {
    return this.inner.writeUnits;
  }

  /** Moves of ids to their buckets count (and fail, and crash) with the entity writes. */
  async addIds(writes: readonly IdBucketWrite[]): Promise<PutResult[]> {
    const add = this.inner.addIds?.bind(this.inner);
    if (!add) return writes.map(() => ({ failed: new Error('no id buckets') }));
    this.idMoves += writes.length;
    return this.#faulty(writes, (ws) => add(ws), 'id bucket write');
  }

  save(writes: readonly EntityWrite[]): Promise<SaveResult[]> {
    return this.#faulty(writes, (ws) => this.inner.save(ws), 'entity write');
  }

  /** Forwards writes under the plan's faults, counted as entity writes: every Nth fails, the Kth crashes. */
  async #faulty<W, R>(
    writes: readonly W[],
    send: (ws: readonly W[]) => Promise<R[]>,
    what: string,
  ): Promise<(R | { failed: Error })[]> {
    const { failEvery, crashAfterWrites } = this.faults;
    try {
      return await forward<W, R | { failed: Error }>(
        writes,
        this.written,
        (i) => (failEvery && (i + 1) % failEvery === 0 ? 'fail' : 'pass'),
        (i) => crashAfterWrites.includes(i + 1),
        send,
        (_, i) => {
          this.failures++;
          return { failed: new Error(`injected: ${what} ${i + 1} failed`) };
        },
        'entity writes',
      );
    } catch (error) {
      if (error instanceof InjectedCrash) this.crashes++;
      throw error;
    }
  }
}

/** The ports of one invocation, over shared inner stores, misbehaving as `plan` says. */
export function faultyDeps(base: ProcessorDeps, plan: FaultPlan): ProcessorDeps {
  const entityWrites = { n: 0 };
  const offlinePuts = { n: 0 };
  const sidePuts = { n: 0 };
  let loads = 0;
  const failed = (what: string, index: number) => ({
    failed: new Error(`injected: ${what} ${index} failed`),
  });
  const entities: EntityStore = {
    load: async (keys, options) => {
      await pause(plan.yields);
      if (plan.failLoad && loads++ === 0) throw new Error('injected: load timed out');
      return base.entities.load(keys, options);
    },
    save: async (writes: readonly EntityWrite[]) => {
      await pause(plan.yields);
      return forward<EntityWrite, SaveResult>(
        writes,
        entityWrites,
        (i) =>
          plan.failEntityWrites?.includes(i)
            ? 'fail'
            : plan.conflictEntityWrites?.includes(i)
              ? 'conflict'
              : 'pass',
        (i) => i === (plan.crashAfterEntityWrites ?? 0) - 1,
        (ws) => base.entities.save(ws),
        (v, i) => (v === 'conflict' ? 'conflict' : failed('entity write', i)),
        'entity writes',
      );
    },
    // Moves of ids to their buckets are writes too, counted (and failed, crashed after) with the
    // entity writes: a crash between a move and its entity's save is one of the schedules.
    ...(base.entities.addIds
      ? {
          addIds: async (writes: readonly IdBucketWrite[]) => {
            await pause(plan.yields);
            const add = base.entities.addIds?.bind(base.entities) as NonNullable<EntityStore['addIds']>;
            return forward<IdBucketWrite, PutResult>(
              writes,
              entityWrites,
              (i) =>
                plan.failEntityWrites?.includes(i) || plan.conflictEntityWrites?.includes(i)
                  ? 'fail'
                  : 'pass',
              (i) => i === (plan.crashAfterEntityWrites ?? 0) - 1,
              (ws) => add(ws),
              (_, i) => failed('id bucket write', i),
              'entity writes',
            );
          },
        }
      : {}),
    ...(base.entities.writeUnits ? { writeUnits: base.entities.writeUnits } : {}),
  };
  const offline: OfflineSink = {
    append: async (batches: readonly OfflineBatch[]) => {
      await pause(plan.yields);
      return forward<OfflineBatch, PutResult>(
        batches,
        offlinePuts,
        (i) => (plan.failOfflinePuts?.includes(i) ? 'fail' : 'pass'),
        (i) => i === (plan.crashAfterOfflinePuts ?? 0) - 1,
        (bs) => base.offline.append(bs),
        (_, i) => failed('offline put', i),
        'offline puts',
      );
    },
    // The side-output bucket, where objects are parked, works while the offline bucket fails.
    ...(base.offline.park ? { park: base.offline.park.bind(base.offline) } : {}),
  };
  const sideOutput: SideOutput = {
    put: async (entries: readonly SideOutputEntry[]) => {
      await pause(plan.yields);
      return forward<SideOutputEntry, PutResult>(
        entries,
        sidePuts,
        (i) => (plan.failSidePuts?.includes(i) ? 'fail' : 'pass'),
        (i) => i === (plan.crashAfterSidePuts ?? 0) - 1,
        (es) => base.sideOutput.put(es),
        (_, i) => failed('side-output put', i),
        'side-output puts',
      );
    },
    parked: (keys) => base.sideOutput.parked(keys),
    completeParked: (done) => base.sideOutput.completeParked(done),
    narrowParked: (n) => base.sideOutput.narrowParked(n),
    unparkGroups: (n) => base.sideOutput.unparkGroups(n),
  };
  return { ...base, entities, offline, sideOutput };
}
