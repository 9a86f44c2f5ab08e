/**
 * An in-memory entity store that refuses chosen entities, keyed `<group>#<entityId>`: `refuse` for
 * good (DynamoDB's ValidationException, as for an item past 400 KB: a permanent failure, so the
 * processor parks), `throttle` for now (a failure a retry may not meet, so the batch is redelivered).
 */
import { OnlineStoreError } from '../../lambdas/adapters/errors.js';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import type { EntityKey, EntityStore, OfflineSink, SaveResult } from '../../lambdas/core/ports.js';
import type { ProcessorDeps } from '../../lambdas/core/process-batch.js';
import { evaluateWindows } from '../../lambdas/core/tiles.js';
import type { FeatureGroup } from '../../schemas/index.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { BASE_TIME } from './records.js';

const itemKey = (k: EntityKey) => `${k.group}#${k.entityId}`;

/** What the DynamoDB adapter answers for an item DynamoDB will never take. */
export const refusal = (key: string): OnlineStoreError =>
  new OnlineStoreError(`write of ${key} failed`, 'online', {
    cause: Object.assign(new Error('Item size has exceeded the maximum allowed size'), {
      name: 'ValidationException',
    }),
    permanent: true,
  });

export function refusingStore(inner = new InMemoryEntityStore()) {
  const refuse = new Set<string>();
  const throttle = new Set<string>();
  const store: EntityStore = {
    load: (keys, o) => inner.load(keys, o),
    save: async (writes) => {
      // Judged once per call, whatever changes while it is in flight.
      const verdicts = writes.map((w) => {
        const k = itemKey(w.key);
        return refuse.has(k)
          ? refusal(k)
          : throttle.has(k)
            ? new OnlineStoreError(`write of ${k} throttled`, 'online')
            : undefined;
      });
      const saved = await inner.save(writes.filter((_, i) => verdicts[i] === undefined));
      let next = 0;
      return writes.map((_, i): SaveResult => {
        const failed = verdicts[i];
        return failed ? { failed } : (saved[next++] as SaveResult);
      });
    },
  };
  return { inner, refuse, throttle, store };
}

/** The clock of `refusingDeps`: a minute after BASE_TIME. */
const NOW = BASE_TIME + 60_000;

/**
 * The processor's ports around a refusing store, as the parking tests use them: in-memory offline
 * sink and side output unless given, no backoff, the clock a minute after BASE_TIME. `count` is an
 * entity's `txn_count_24h` as stored (0 if it has no item): how many times its events were applied.
 */
export function refusingDeps<S extends InMemorySideOutput = InMemorySideOutput>(
  options: { readonly offline?: OfflineSink; readonly sideOutput?: S } = {},
) {
  const refusing = refusingStore();
  const sideOutput = options.sideOutput ?? (new InMemorySideOutput() as S);
  const deps: ProcessorDeps = {
    contracts,
    groupsFedBy,
    entities: refusing.store,
    offline: options.offline ?? new InMemoryOfflineSink(),
    sideOutput,
    sleep: async () => {},
    now: () => NOW,
  };
  const count = async (group: FeatureGroup, entityId: string): Promise<number> => {
    const [s] = await refusing.inner.load([{ group: group.name, entityId }]);
    return s ? Number(evaluateWindows(group, s.state.tiles, NOW).txn_count_24h ?? 0) : 0;
  };
  return { ...refusing, deps, sideOutput, count };
}
