/**
 * Handler overhead without the store round trip: the lookup handler (`createHandler`, the same code
 * the Lambda runs) called in-process with API Gateway proxy events, over an `InMemoryEntityStore`
 * filled by the processor core with the benchmark's data. It times routing, validation (zod, entity
 * ids, feature refs), authorization, the lookup core (windows from tiles, TTL, masking), JSON and the
 * audit line; the in-memory store's `load` (a deep copy per entity, standing in for the
 * deserialisation a real store does) is timed apart too.
 *
 * It runs in a child process because the audit line is part of the cost: the deployed function logs
 * it at INFO (lib/constructs/platform-function-defaults.ts), while the local platform in this process
 * logs at WARN and the handler module's logger takes its level once, at import.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { InMemoryEntityStore } from '../../lambdas/adapters/memory.js';
import { entityKeyOf } from '../../lambdas/core/latest-values.js';
import type {
  EntityKey,
  EntityStore,
  EntityWrite,
  LoadOptions,
  StoredEntity,
} from '../../lambdas/core/ports.js';
import { localIdentities } from '../../local/iam-auth.js';
import { CUSTOMER_FEATURES, entityPicker, FEATURE_REFS, loadLookupData } from './lookup-data.js';
import { collectGarbage, quantile } from './stats.js';

/** Calls per variant: the first `warm` are not measured. */
export const HANDLER_RUNS = {
  get: { warm: 2_000, measured: 5_000 },
  post: { warm: 100, measured: 600 },
  /** POST over the copying store: ~13 ms a call, so fewer. */
  postCopying: { warm: 50, measured: 300 },
} as const;
const PREFIX = 'fp-bench';
const MAX_ENTITIES = 100;

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly n: number;
}

export interface Overhead {
  readonly total: Percentiles;
  /** Total minus the time spent in the store's `load`. */
  readonly withoutLoad: Percentiles;
}

export interface HandlerOverhead {
  /** The store hands out its stored states (no copy): what is timed is the handler's own work. */
  readonly get: Overhead;
  readonly post100: Overhead;
  /** `InMemoryEntityStore` as it is: a deep copy (structuredClone) of every entity it loads. */
  readonly copying: { readonly get: Overhead; readonly post100: Overhead };
  readonly logLevel: string;
}

export const percentiles = (xs: readonly number[]): Percentiles => ({
  p50: quantile(xs, 0.5),
  p99: quantile(xs, 0.99),
  max: Math.max(...xs),
  n: xs.length,
});

/**
 * Times every `load`, so the store's own work can be told apart from the handler's. The in-memory
 * store does all its work (the copies) before it returns its promise, so the call is timed, not the
 * await: awaiting would also count the other group's load, which the core runs alongside.
 */
class TimedStore implements EntityStore {
  loadMs = 0;
  constructor(private readonly inner: EntityStore) {}
  load(keys: readonly EntityKey[], options?: LoadOptions) {
    const t0 = performance.now();
    const out = this.inner.load(keys, options);
    this.loadMs += performance.now() - t0;
    return out;
  }
  save(writes: readonly EntityWrite[]) {
    return this.inner.save(writes);
  }
}

/**
 * The in-memory store without its defensive copy: the lookup core only reads what `load` returns.
 * It hands out states as a real store's deserialisation makes them (JSON-parsed once, when the
 * data is loaded), not the objects the processor built up by mutation.
 */
class SharedStateStore extends InMemoryEntityStore {
  readonly #parsed = new Map<string, StoredEntity>();
  /** Snapshots every item as JSON-parsed; call once the data is written. */
  freeze(): void {
    for (const [key, item] of this.items)
      this.#parsed.set(key, { state: JSON.parse(JSON.stringify(item.state)), version: item.version });
  }
  override async load(keys: readonly EntityKey[]): Promise<(StoredEntity | undefined)[]> {
    if (this.#parsed.size === 0) return super.load(keys); // still being written
    return keys.map((k) => this.#parsed.get(entityKeyOf(k)));
  }
}

const event = (
  method: string,
  resource: string,
  userArn: string,
  extra: Partial<APIGatewayProxyEvent>,
  i: number,
): APIGatewayProxyEvent =>
  ({
    httpMethod: method,
    resource,
    path: resource,
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: `bench-${i}`, identity: { userArn } },
    ...extra,
  }) as unknown as APIGatewayProxyEvent;

/** Measures in this process; call it where the handler module's logger has the level wanted. */
export async function measureHandlerOverhead(now: number): Promise<HandlerOverhead> {
  const { createHandler } = await import('../../lambdas/lookup/handler.js');
  const shared = new SharedStateStore();
  await loadLookupData(shared, now);
  shared.freeze();
  // Measure from a settled heap, as a warm Lambda would be, not amid the garbage of loading the data.
  collectGarbage();
  const copying = new InMemoryEntityStore();
  for (const [key, item] of shared.items) copying.items.set(key, item);
  const arn = localIdentities(PREFIX).find((i) => i.role === 'consumer-fraud-scoring')?.arn ?? '';
  const pick = entityPicker(17);

  const getEvents = Array.from({ length: 500 }, (_, i) =>
    event(
      'GET',
      '/v1/features/{group}/{entityId}',
      arn,
      {
        pathParameters: { group: 'customer', entityId: pick.customer() },
        queryStringParameters: { features: CUSTOMER_FEATURES.join(',') },
      },
      i,
    ),
  );
  const postEvents = Array.from({ length: 100 }, (_, i) =>
    event(
      'POST',
      '/v1/features:get',
      arn,
      { body: JSON.stringify({ features: FEATURE_REFS, entities: pick.rows(MAX_ENTITIES) }) },
      i,
    ),
  );

  const run = async (
    inner: EntityStore,
    events: readonly APIGatewayProxyEvent[],
    { warm, measured }: { warm: number; measured: number },
  ): Promise<Overhead> => {
    const store = new TimedStore(inner);
    const handler = createHandler(() => ({
      store,
      maxEntities: MAX_ENTITIES,
      rolePrefix: PREFIX,
      now: () => now,
    }));
    const total: number[] = [];
    const withoutLoad: number[] = [];
    for (let i = 0; i < warm + measured; i++) {
      const e = events[i % events.length] as APIGatewayProxyEvent;
      store.loadMs = 0;
      const t0 = performance.now();
      const response = await handler(e);
      const ms = performance.now() - t0;
      if (response.statusCode !== 200)
        throw new Error(`handler answered ${response.statusCode}: ${response.body}`);
      if (i < warm) continue;
      total.push(ms);
      withoutLoad.push(ms - store.loadMs);
    }
    return { total: percentiles(total), withoutLoad: percentiles(withoutLoad) };
  };
  return {
    get: await run(shared, getEvents, HANDLER_RUNS.get),
    post100: await run(shared, postEvents, HANDLER_RUNS.post),
    copying: {
      get: await run(copying, getEvents, HANDLER_RUNS.get),
      post100: await run(copying, postEvents, HANDLER_RUNS.postCopying),
    },
    logLevel: process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
  };
}

/**
 * Runs `measureHandlerOverhead` in a child process whose handler logs its audit lines at INFO, as
 * deployed, into a pipe this process drains; returns the figures and how many audit lines came.
 */
export function measureHandlerOverheadInChild(
  now: number,
): Promise<HandlerOverhead & { auditLines: number }> {
  const child = fork(fileURLToPath(new URL('./lookup-handler-probe.ts', import.meta.url)), [String(now)], {
    execArgv: process.execArgv,
    env: {
      ...process.env,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let auditLines = 0;
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const byte of chunk) if (byte === 10) auditLines++;
  });
  return new Promise((resolve, reject) => {
    let result: HandlerOverhead | undefined;
    child.on('message', (message) => {
      result = message as HandlerOverhead;
    });
    child.on('error', reject);
    // 'close', not 'exit': by then the audit lines in the pipe are all counted.
    child.on('close', (code) => {
      if (code === 0 && result) resolve({ ...result, auditLines });
      else reject(new Error(`the handler probe exited with ${code} and ${result ? 'a' : 'no'} result`));
    });
  });
}
