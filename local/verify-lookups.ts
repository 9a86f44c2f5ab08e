/**
 * Asks the lookup API for a sample of entities over HTTP and checks each answer against the
 * expected latest values; also checks that an unknown entity is a 404 and a malformed id a 400.
 */
import type { ExpectedEntity } from './demo-traffic.js';

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

function compare(expected: ExpectedEntity, body: FeatureBody): string | undefined {
  if (body.eventId !== expected.eventId) return `event ${body.eventId}, expected ${expected.eventId}`;
  if (body.eventTime !== new Date(expected.eventTime).toISOString()) return `event time ${body.eventTime}`;
  for (const [name, value] of Object.entries(expected.values)) {
    const got = body.features?.[name];
    if (got?.value !== value)
      return `${name} = ${JSON.stringify(got?.value)}, expected ${JSON.stringify(value)}`;
  }
  const masked = Object.entries(body.features ?? {}).filter(([n]) => !(n in expected.values));
  if (masked.some(([, f]) => f.status !== 'masked' || f.value !== null))
    return 'a PII feature was not masked';
  return undefined;
}

export async function verifyLookups(
  apiUrl: string,
  expected: readonly ExpectedEntity[],
  sampleSize = 50,
): Promise<LookupCheck> {
  const step = Math.max(1, Math.floor(expected.length / sampleSize));
  const sample = expected.filter((_, i) => i % step === 0).slice(0, sampleSize);
  const mismatches: string[] = [];
  const samples: { path: string; body: unknown }[] = [];
  let ok = 0;
  const check = async (path: string, status: number, verify: (body: unknown) => string | undefined) => {
    try {
      const res = await fetch(`${apiUrl}${path}`);
      const body = (await res.json()) as unknown;
      const problem = res.status !== status ? `HTTP ${res.status}, expected ${status}` : verify(body);
      if (problem) mismatches.push(`${path}: ${problem}`);
      else ok++;
      if (samples.length < 3 && status === 200) samples.push({ path, body });
    } catch (error) {
      mismatches.push(`${path}: ${(error as Error).message}`);
    }
  };
  await Promise.all(
    sample.map((e) =>
      check(`/v1/features/${e.group}/${encodeURIComponent(e.entityId)}`, 200, (b) =>
        compare(e, b as FeatureBody),
      ),
    ),
  );
  await check('/v1/features/customer/cus_nobody0000', 404, () => undefined);
  await check('/v1/features/customer/not%20an%20id', 400, () => undefined);
  await check('/v1/features/no_such_group/cus_000001', 400, () => undefined);
  return { ok, failed: mismatches.length, mismatches, samples };
}
