/**
 * The lookup API as a model service calls it: SigV4-signed (`execute-api`, the local credentials of
 * a declared consumer role) over HTTP/1.1 keep-alive to the local API Gateway stand-in. A call is
 * timed from before signing to the parsed body, as the caller sees it. Also pre-signs a pool of
 * requests for autocannon, which cannot sign (a signature stays valid 5 minutes, so a pool signed
 * right before a 30 s run is valid throughout).
 */
import type { SignatureV4 } from '@smithy/signature-v4';
import autocannon from 'autocannon';
import { type Credentials, executeApiSigner, signedFetch } from '../../clients/sigv4.js';

export interface TimedCall {
  readonly ms: number;
  readonly status: number;
  readonly body: unknown;
}

export type FeatureStatusCounts = Record<string, number>;

export class SignedLookupCaller {
  readonly #signer: SignatureV4;
  constructor(
    readonly baseUrl: string,
    readonly region: string,
    credentials: Credentials,
  ) {
    this.#signer = executeApiSigner(region, credentials);
  }

  get signer(): SignatureV4 {
    return this.#signer;
  }

  getUrl(group: string, entityId: string, features: readonly string[]): URL {
    const url = new URL(`/v1/features/${group}/${entityId}`, this.baseUrl);
    url.searchParams.set('features', features.join(','));
    return url;
  }

  /** `GET /v1/features/{group}/{entityId}?features=...` */
  get(group: string, entityId: string, features: readonly string[]): Promise<TimedCall> {
    return this.#call(this.getUrl(group, entityId, features), { method: 'GET' });
  }

  /** `POST /v1/features:get` */
  post(body: {
    features: readonly string[];
    entities: readonly Record<string, string>[];
  }): Promise<TimedCall> {
    return this.#call(new URL('/v1/features:get', this.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  async #call(url: URL, init: { method: string; headers?: Record<string, string>; body?: string }) {
    const t0 = performance.now();
    const res = await signedFetch(this.#signer, url, init);
    const text = await res.text();
    const body: unknown = JSON.parse(text);
    return { ms: performance.now() - t0, status: res.status, body };
  }
}

/** Counts the status of every feature cell in a response (`present`, `not_found`, ...). */
export function countStatuses(body: unknown, into: FeatureStatusCounts): void {
  const cells = (features: unknown) =>
    Object.values((features ?? {}) as Record<string, { status?: string }>).map((c) => c.status ?? 'none');
  const b = body as { rows?: { features?: unknown }[]; features?: unknown };
  const statuses = b.rows ? b.rows.flatMap((r) => cells(r.features)) : cells(b.features);
  for (const s of statuses) into[s] = (into[s] ?? 0) + 1;
}

/** GET requests signed now, ready for autocannon (path with query, and every signed header incl. host). */
export async function presign(signer: SignatureV4, urls: readonly URL[]): Promise<autocannon.Request[]> {
  return Promise.all(
    urls.map(async (url) => {
      const signed = await signer.sign({
        method: 'GET',
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { host: url.host },
      });
      return { method: 'GET' as const, path: `${url.pathname}${url.search}`, headers: { ...signed.headers } };
    }),
  );
}

export interface LoadResult {
  /** Responses received (any status). */
  readonly requests: number;
  /** Connection errors + timeouts + non-2xx answers. */
  readonly errors: number;
  readonly breakdown: { errors: number; timeouts: number; non2xx: number };
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly seconds: number;
}

/**
 * autocannon against `url` for `seconds`, its client in a worker thread (so that it does not share
 * the event loop of the API it loads), each connection cycling through `requests`.
 */
export async function loadTest(
  url: string,
  requests: autocannon.Request[],
  options: { seconds: number; connections: number },
): Promise<LoadResult> {
  const result = await autocannon({
    url,
    duration: options.seconds,
    connections: options.connections,
    workers: 1,
    requests,
    timeout: 10,
  });
  const errors = result.errors + result.non2xx;
  return {
    requests: result.requests.total,
    errors,
    breakdown: { errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx },
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    seconds: (result.finish.getTime() - result.start.getTime()) / 1000,
  };
}
