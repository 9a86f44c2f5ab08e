/**
 * Asks the lookup API for a sample of entities over HTTP and checks each answer against the
 * reference recomputation: the latest values, and the 24h and 7d window aggregates (far from any
 * tile edge in the demo, so exact whatever the request's instant); also that an unknown entity is
 * a 404, a malformed id and an unknown group a 400, and that access follows the declared roles.
 */
import { executeApiSigner, signedFetch } from '../clients/sigv4.js';
import { featureGroupsByName } from '../schemas/index.js';
import { type ReferenceEntity, referenceWindow } from './reference-features.js';

export interface LookupCheck {
  readonly ok: number;
  readonly failed: number;
  /** What did not match, for the console. */
  readonly mismatches: readonly string[];
  /** A few answers, to show. */
  readonly samples: readonly { readonly path: string; readonly body: unknown }[];
}

interface FeatureBody {
  eventId?: string;
  eventTime?: string;
  features?: Record<string, { value: unknown; status: string }>;
}

function compare(expected: ReferenceEntity, body: FeatureBody, asOf: number): string | undefined {
  const group = featureGroupsByName.get(expected.group);
  if (!group) return `unknown group ${expected.group}`;
  if (body.eventId !== expected.latest.eventId)
    return `event ${body.eventId}, expected ${expected.latest.eventId}`;
  if (body.eventTime !== new Date(expected.latest.eventTime).toISOString())
    return `event time ${body.eventTime}`;
  for (const f of group.features) {
    const got = body.features?.[f.name];
    if (f.classification === 'pii') {
      if (got?.status !== 'masked' || got.value !== null) return `${f.name} (PII) was not masked`;
      continue;
    }
    if (f.kind === 'window' && f.window !== '24h' && f.window !== '7d') continue;
    const want =
      f.kind === 'latest' ? expected.latest.values[f.name] : referenceWindow(f, expected.events, asOf);
    if (got?.value !== want)
      return `${f.name} = ${JSON.stringify(got?.value)}, expected ${JSON.stringify(want)}`;
  }
  return undefined;
}

/** Local credentials of an access role, from `.local/endpoints.json`. */
export interface RoleCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export async function verifyLookups(
  api: {
    readonly url: string;
    readonly region: string;
    readonly roles: Readonly<Record<string, RoleCredentials>>;
  },
  expected: readonly ReferenceEntity[],
  sampleSize = 50,
): Promise<LookupCheck> {
  const apiUrl = api.url;
  const signer = (role: string) => executeApiSigner(api.region, api.roles[role]);
  const fraud = signer('consumer-fraud-scoring');
  const step = Math.max(1, Math.floor(expected.length / sampleSize));
  const sample = expected.filter((_, i) => i % step === 0).slice(0, sampleSize);
  const mismatches: string[] = [];
  const samples: { path: string; body: unknown }[] = [];
  let ok = 0;
  const check = async (
    path: string,
    status: number,
    verify: (body: unknown) => string | undefined,
    as: ReturnType<typeof signer> | null = fraud,
  ) => {
    try {
      const res = as ? await signedFetch(as, `${apiUrl}${path}`) : await fetch(`${apiUrl}${path}`);
      const body = (await res.json()) as unknown;
      const problem = res.status !== status ? `HTTP ${res.status}, expected ${status}` : verify(body);
      if (problem) mismatches.push(`${path}: ${problem}`);
      else ok++;
      if (samples.length < 2 && status === 200) samples.push({ path, body });
    } catch (error) {
      mismatches.push(`${path}: ${(error as Error).message}`);
    }
  };
  await Promise.all(
    sample.map((e) =>
      check(`/v1/features/${e.group}/${encodeURIComponent(e.entityId)}`, 200, (b) =>
        compare(e, b as FeatureBody, Date.now()),
      ),
    ),
  );
  await check('/v1/features/customer/cus_nobody0000', 404, () => undefined);
  await check('/v1/features/customer/not%20an%20id', 400, () => undefined);
  await check('/v1/features/no_such_group/cus_000001', 400, () => undefined);
  // Role-based access: a merchant-only role is refused customer features; an unsigned call is refused.
  const someCustomer = sample.find((e) => e.group === 'customer')?.entityId ?? 'cus_000001';
  await check(
    `/v1/features/customer/${someCustomer}`,
    403,
    () => undefined,
    signer('consumer-merchant-risk'),
  );
  await check(`/v1/features/customer/${someCustomer}`, 403, () => undefined, null);
  return { ok, failed: mismatches.length, mismatches, samples };
}
