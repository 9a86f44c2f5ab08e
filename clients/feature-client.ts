/**
 * Typed client of the lookup API for model services. Signs every request with SigV4 for
 * `execute-api` (the deployed API uses IAM auth), with credentials from the default provider chain
 * unless given; against `npm start` it signs with the local credentials from `.local/endpoints.json`.
 * A problem+json answer becomes a `FeatureApiError` carrying the status and the problem.
 */
import type { SignatureV4 } from '@smithy/signature-v4';
import { type Credentials, executeApiSigner, signedFetch } from './sigv4.js';

export type FeatureValue = string | number | boolean | null;
export type FeatureStatus = 'present' | 'not_found' | 'expired' | 'masked';

export interface FeatureCell {
  readonly value: FeatureValue;
  readonly eventTime: string | null;
  readonly status: FeatureStatus;
}

export interface EntityFeatures {
  readonly group: string;
  readonly entity: { readonly name: string; readonly id: string };
  readonly eventId: string;
  readonly eventTime: string;
  readonly ingestionTime: string;
  readonly freshnessMs: number;
  readonly features: Readonly<Record<string, FeatureCell>>;
}

export interface FeatureRow {
  readonly entity: Readonly<Record<string, string>>;
  /** By reference, `<group>:<feature>`. */
  readonly features: Readonly<Record<string, FeatureCell>>;
  readonly freshnessMs: Readonly<Record<string, number | null>>;
}

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
}

export class FeatureApiError extends Error {
  override readonly name = 'FeatureApiError';
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(problem ? `${status} ${problem.title}: ${problem.detail}` : `HTTP ${status}`);
  }
}

export interface FeatureClientProps {
  /** API base URL: the stack output `LookupApiUrl`, or `api.url` of `.local/endpoints.json`. */
  readonly baseUrl: string;
  readonly region: string;
  /** @default the AWS SDK's default provider chain */
  readonly credentials?: Credentials;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Per request. @default 2000 */
  readonly timeoutMs?: number;
}

export class FeatureClient {
  readonly #signer: SignatureV4;
  readonly #fetch: typeof fetch;
  readonly #base: URL;

  constructor(private readonly props: FeatureClientProps) {
    this.#base = new URL(props.baseUrl.endsWith('/') ? props.baseUrl : `${props.baseUrl}/`);
    this.#signer = executeApiSigner(props.region, props.credentials);
    this.#fetch = props.fetch ?? globalThis.fetch;
  }

  /** One entity of one group; `features` limits what is read (default: all of the group's). */
  getEntity(group: string, entityId: string, features?: readonly string[]): Promise<EntityFeatures> {
    const query = features?.length ? { features: features.join(',') } : undefined;
    return this.#request<EntityFeatures>(
      'GET',
      `v1/features/${encodeURIComponent(group)}/${encodeURIComponent(entityId)}`,
      query,
    );
  }

  /** Up to 100 entities x feature references across groups; rows come back in request order. */
  async getFeatures(request: {
    readonly features: readonly string[];
    readonly entities: readonly Readonly<Record<string, string>>[];
  }): Promise<{ readonly asOf: string; readonly rows: readonly FeatureRow[] }> {
    return this.#request('POST', 'v1/features:get', undefined, JSON.stringify(request));
  }

  async #request<T>(method: string, path: string, query?: Record<string, string>, body?: string): Promise<T> {
    const url = new URL(path, this.#base);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await signedFetch(
      this.#signer,
      url,
      { method, headers, body, signal: AbortSignal.timeout(this.props.timeoutMs ?? 2000) },
      this.#fetch,
    );
    const text = await res.text();
    if (!res.ok) {
      let problem: Problem | undefined;
      try {
        problem = JSON.parse(text) as Problem;
      } catch {
        problem = undefined;
      }
      throw new FeatureApiError(res.status, problem);
    }
    return JSON.parse(text) as T;
  }
}
