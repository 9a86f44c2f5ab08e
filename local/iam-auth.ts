/**
 * API Gateway's IAM auth on localhost: each declared access role (lib/access-roles.ts) gets local
 * credentials; a request must carry a valid SigV4 signature for `execute-api` made with one of
 * them, and is then attributed to that role's ARN, as API Gateway does with `requestContext.identity`.
 * The signature is checked by signing the request again with the same signed headers and date.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { ACCESS_ROLES, type AccessRole, accessRoleName } from '../lib/access-roles.js';

export interface LocalIdentity {
  readonly role: string;
  readonly arn: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export const LOCAL_ACCOUNT = '000000000000';

/** Fresh local credentials for every declared role of the deployment `prefix`. */
export function localIdentities(
  prefix: string,
  roles: readonly AccessRole[] = ACCESS_ROLES,
): LocalIdentity[] {
  return roles.map((role, i) => ({
    role: role.name,
    arn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${accessRoleName(prefix, role)}/local`,
    accessKeyId: `ASIALOCAL${String(i).padStart(3, '0')}${randomBytes(4).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64'),
  }));
}

export type Verdict =
  | { readonly ok: true; readonly identity: LocalIdentity }
  | { readonly ok: false; readonly message: string };

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/;

/** Parses an `x-amz-date` (yyyymmddThhmmssZ). */
const amzDate = (s: string): Date | undefined => {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, se));
};

export async function verifySigV4(
  identities: readonly LocalIdentity[],
  request: { method: string; url: URL; headers: IncomingHttpHeaders; body: string | null; region: string },
): Promise<Verdict> {
  const header = request.headers.authorization;
  if (!header) return { ok: false, message: 'Missing Authentication Token' };
  const m = AUTH.exec(header);
  if (!m) return { ok: false, message: 'Authorization header requires a SigV4 signature' };
  const [, accessKeyId, , region, service, signedHeaders, signature] = m as unknown as string[];
  const identity = identities.find((i) => i.accessKeyId === accessKeyId);
  if (!identity) return { ok: false, message: 'The security token included in the request is invalid.' };
  if (service !== 'execute-api' || region !== request.region) {
    return { ok: false, message: `Credential should be scoped to ${request.region}/execute-api` };
  }
  const date = amzDate(String(request.headers['x-amz-date'] ?? ''));
  if (!date || Math.abs(Date.now() - date.getTime()) > 5 * 60_000) {
    return { ok: false, message: 'Signature expired or x-amz-date missing' };
  }
  const headers: Record<string, string> = {};
  for (const name of (signedHeaders as string).split(';')) {
    const value = request.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const signer = new SignatureV4({
    service: 'execute-api',
    region: request.region,
    credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey },
    sha256: Hash.bind(null, 'sha256'),
    // Sign exactly the headers the client signed: add no x-amz-content-sha256 of our own (curl sends none).
    applyChecksum: false,
  });
  const resigned = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: request.url.hostname,
      path: request.url.pathname,
      query: Object.fromEntries(request.url.searchParams),
      headers,
      body: request.body ?? undefined,
    },
    { signingDate: date },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(resigned.headers.authorization ?? '')?.[1];
  if (expected !== signature) {
    return {
      ok: false,
      message: 'The request signature we calculated does not match the signature you provided.',
    };
  }
  return { ok: true, identity };
}
