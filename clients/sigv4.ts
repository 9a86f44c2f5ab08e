/** SigV4 signing of HTTP requests for API Gateway's IAM auth (`execute-api`). */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

export const executeApiSigner = (region: string, credentials?: Credentials): SignatureV4 =>
  new SignatureV4({
    service: 'execute-api',
    region,
    credentials: credentials ?? defaultProvider(),
    sha256: Hash.bind(null, 'sha256'),
  });

/** `fetch`, signed: the host, date and payload hash are covered by the signature. */
export async function signedFetch(
  signer: SignatureV4,
  input: string | URL,
  init: { method?: string; body?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
  fetchImpl: typeof fetch = globalThis.fetch,
): Promise<Response> {
  const url = new URL(input);
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { ...init.headers, host: url.host };
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    body: init.body,
  });
  const { host: _, ...sent } = signed.headers;
  return fetchImpl(url, { method, headers: sent, body: init.body, signal: init.signal });
}
