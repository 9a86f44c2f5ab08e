/**
 * Record -> validated event. Every way a record can be unusable has a reason a producer team can
 * act on; reasons name fields and rules, never the values (which may be PII).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { upgradeEvent } from '../../schemas/contract.js';
import type { EventContract } from '../../schemas/index.js';

/** A stream record, independent of Lambda's event shape. */
export interface InputRecord {
  /** `<shardId>:<sequenceNumber>`: unique in the stream, stable under redelivery. */
  readonly recordId: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** Approximate arrival time in the stream, epoch ms (fixed per record, so redelivery decides the same). */
  readonly arrivalTime: number;
  /** The payload, base64 as Kinesis delivers it. */
  readonly data: string;
}

/** Producers wrap each event in this envelope so a consumer knows its contract and version. */
export const envelopeSchema = z.object({
  contract: z.string().min(1).max(64),
  version: z.int().min(1),
  // Only an object here: the contract's schema checks its fields next (a record schema would walk
  // and copy every field first, a fifth of decoding's cost).
  event: z.custom<Record<string, unknown>>(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    'expected an object',
  ),
});
export type Envelope = z.infer<typeof envelopeSchema>;

export interface ValidEvent {
  readonly contract: EventContract;
  readonly contractVersion: number;
  readonly eventId: string;
  readonly eventTime: number;
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * What `npm run redrive` sends for a record parked for some groups only (process-batch.ts, step 7):
 * the key of its parked entry and the record's bytes as they first arrived (base64). The processor
 * takes nothing else from it on trust: what is left to apply, and for which record, it reads in the
 * entry, which must name these very bytes.
 */
export const redriveEnvelopeSchema = z.strictObject({
  redrive: z.strictObject({
    // Exactly what `sideOutputKey` makes: ASCII, and far under S3's 1,024-byte key limit.
    parked: z
      .string()
      .regex(
        /^parked\/dt=\d{4}-\d{2}-\d{2}\/[A-Za-z0-9_.-]{1,128}\/\d{1,129}\.json$/,
        'must be the key of a parked entry (parked/dt=<yyyy-mm-dd>/<shard>/<sequence number>.json)',
      ),
  }),
  data: z.base64(),
});

/** A redrive's claim: the parked entry it completes, and the bytes it carries (base64) with their SHA-256 (hex). */
export interface RedriveOf {
  readonly parked: string;
  readonly data: string;
  readonly dataSha256: string;
}

export type Decoded =
  | { readonly ok: true; readonly event: ValidEvent; readonly redrive?: RedriveOf }
  | { readonly ok: false; readonly reason: string };

/** SHA-256 (hex) of a record's bytes (base64 as Kinesis delivers them): how a parked entry names them. */
export const dataSha256 = (base64: string): string =>
  createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex');

/** The largest clock skew any contract allows (tiles are kept this much longer). */
export const MAX_FUTURE_SKEW_MS = 15 * 60_000;

const describeIssues = (issues: readonly z.core.$ZodIssue[]): string =>
  issues
    .slice(0, 10)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');

/** The first bytes of a record the Kinesis Producer Library aggregated (several user records in one). */
const KPL_MAGIC = [0xf3, 0x89, 0x9a, 0xc2] as const;

const isKplAggregate = (bytes: Buffer): boolean =>
  bytes.length > KPL_MAGIC.length && KPL_MAGIC.every((b, i) => bytes[i] === b);

export function decodeRecord(record: InputRecord, contracts: ReadonlyMap<string, EventContract>): Decoded {
  let json: unknown;
  const bytes = Buffer.from(record.data, 'base64');
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    // Lambda hands a KPL aggregate over as it is: say so, rather than "not JSON" for N events at once.
    if (isKplAggregate(bytes))
      return {
        ok: false,
        reason:
          'payload is a KPL-aggregated record (several events in one); send one JSON envelope per record ' +
          '(KPL: AggregationEnabled=false)',
      };
    return { ok: false, reason: 'payload is not valid UTF-8 JSON' };
  }
  if (typeof json === 'object' && json !== null && 'redrive' in json)
    return decodeRedrive(record, json, contracts);
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) {
    return {
      ok: false,
      reason: `not an event envelope {contract, version, event}: ${describeIssues(envelope.error.issues)}`,
    };
  }
  const { contract: name, version, event } = envelope.data;
  const contract = contracts.get(name);
  if (!contract) return { ok: false, reason: `unknown contract "${name.slice(0, 64)}"` };
  const older = contract.previousVersions.find((p) => p.version === version);
  if (version !== contract.version && !older) {
    const known = [...contract.previousVersions.map((p) => p.version), contract.version].join(', ');
    return { ok: false, reason: `contract ${name} has no version ${version} (registered: ${known})` };
  }
  const asSent = (older?.schema ?? contract.schema).safeParse(event);
  if (!asSent.success) {
    return {
      ok: false,
      reason: `violates contract ${name} v${version}: ${describeIssues(asSent.error.issues)}`,
    };
  }
  // An older version is brought to the current shape, which must then hold too.
  const parsed = older
    ? contract.schema.safeParse(upgradeEvent(contract, version, asSent.data as Record<string, unknown>))
    : asSent;
  if (!parsed.success) {
    const why = describeIssues(parsed.error.issues);
    return {
      ok: false,
      reason: `contract ${name} v${version} does not upgrade to v${contract.version}: ${why}`,
    };
  }
  const fields = parsed.data as Record<string, unknown>;
  for (const rule of contract.rules) {
    if (!rule.check(fields))
      return { ok: false, reason: `data quality rule "${rule.name}" failed: ${rule.description}` };
  }
  const eventTime = Date.parse(String(fields[contract.eventTimeField]));
  if (eventTime > record.arrivalTime + contract.maxFutureSkewMs) {
    const minutes = contract.maxFutureSkewMs / 60_000;
    return {
      ok: false,
      reason: `${contract.eventTimeField} is more than ${minutes} minutes after the record's arrival`,
    };
  }
  return {
    ok: true,
    event: {
      contract,
      contractVersion: version,
      eventId: String(fields[contract.eventIdField]),
      eventTime,
      fields,
    },
  };
}

/** A redrive envelope: the record inside decoded as any record, with the claim beside it. */
function decodeRedrive(
  record: InputRecord,
  json: object,
  contracts: ReadonlyMap<string, EventContract>,
): Decoded {
  const envelope = redriveEnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    return {
      ok: false,
      reason: `not a redrive envelope {redrive: {parked}, data}: ${describeIssues(envelope.error.issues)}`,
    };
  }
  const { redrive, data } = envelope.data;
  const inner = decodeRecord({ ...record, data }, contracts);
  if (!inner.ok) return { ok: false, reason: `redriven record: ${inner.reason}` };
  if (inner.redrive) return { ok: false, reason: 'redriven record: a redrive envelope inside another' };
  return {
    ok: true,
    event: inner.event,
    redrive: { parked: redrive.parked, data, dataSha256: dataSha256(data) },
  };
}
