/**
 * Configuration of a function, read from its environment once, in its composition root. A missing
 * or malformed variable fails the first invocation with a message naming the variable.
 */
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { z } from 'zod';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const name = (what: string) => z.string({ error: `is required (${what})` }).min(1, `is required (${what})`);

/** Milliseconds an SDK request may take before it fails (and is retried): SDK_REQUEST_TIMEOUT_MS. */
export const SDK_REQUEST_TIMEOUT_MS = 10_000;
/** Milliseconds an AWS SDK connection may take to open (sdkClientConfig). */
export const SDK_CONNECTION_TIMEOUT_MS = 3_000;

const OFFLINE_OBJECT_KEYS_FORMAT =
  'must be a JSON object from an offline dataset prefix (features/group=<g>/, events/contract=<c>/) to pii or general';

/** The KMS key (ARN) of a key class, as the processor's configuration names it. */
export const offlineKeyId = (
  c: { readonly PII_KMS_KEY_ID?: string | undefined; readonly GENERAL_KMS_KEY_ID?: string | undefined },
  keyClass: 'pii' | 'general',
): string | undefined => (keyClass === 'pii' ? c.PII_KMS_KEY_ID : c.GENERAL_KMS_KEY_ID);

export const processorConfigSchema = z
  .object({
    ONLINE_TABLE: name('DynamoDB online store table'),
    OFFLINE_BUCKET: name('S3 offline store bucket'),
    SIDE_OUTPUT_BUCKET: name('S3 quarantine/late/duplicate bucket'),
    /** `true` for an S3-compatible endpoint such as the local s3rver. */
    S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false'),
    /** Secrets Manager secret holding the PII tokenization key (AWS) ... */
    PII_TOKEN_SECRET_ARN: z.string().min(1).optional(),
    /** ... or the key itself, base64 (local runs only). */
    PII_TOKEN_KEY: z.string().min(1).optional(),
    /** KMS key (id or ARN) that seals raw payloads in the side outputs (AWS) ... */
    PII_KMS_KEY_ID: z.string().min(1).optional(),
    /** ... or a 32-byte key, base64 (local runs only). */
    PII_SEAL_KEY: z.string().min(1).optional(),
    /** Milliseconds an AWS SDK request may take before it fails and is retried (shared/config.ts sdkClientConfig). */
    SDK_REQUEST_TIMEOUT_MS: z.coerce
      .number('must be a number of milliseconds (how long an AWS SDK request may take)')
      .int('must be a whole number of milliseconds (how long an AWS SDK request may take)')
      .min(100, 'must be at least 100 milliseconds (how long an AWS SDK request may take)')
      .default(SDK_REQUEST_TIMEOUT_MS),
    /** KMS key (ARN) of the offline objects that hold no PII (AWS). */
    GENERAL_KMS_KEY_ID: z.string().min(1).optional(),
    /**
     * Offline datasets written under another key than the bucket's default, by key prefix: JSON,
     * `{"features/group=merchant/": "general"}` (lib/data-classification.ts `offlineObjectKeyClasses`).
     * Unset: every object takes the bucket's default key.
     */
    OFFLINE_OBJECT_KEYS: z
      .string()
      .default('{}')
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: OFFLINE_OBJECT_KEYS_FORMAT });
          return z.NEVER;
        }
      })
      .pipe(
        z.record(
          z.string().regex(/^(features|events)\/[a-z]+=[^/]+\/$/, OFFLINE_OBJECT_KEYS_FORMAT),
          z.enum(['pii', 'general'], OFFLINE_OBJECT_KEYS_FORMAT),
          OFFLINE_OBJECT_KEYS_FORMAT,
        ),
      ),
    /**
     * The layout entity items and id buckets are written in (lambdas/adapters/entity-item-codec.ts);
     * every layout is read. Raised only once every function of the deployment reads the new one.
     */
    ENTITY_ITEM_LAYOUT: z
      .enum(['1', '2', '3', '4'], 'must be 1, 2, 3 or 4 (entity item layout)')
      .default('1'),
    /**
     * Seconds after a record reached the stream at which one whose entity write still fails is parked
     * instead of retried (lib/platform-spec.ts `parkAfterAgeSeconds`). Unset: never.
     */
    PARK_AFTER_AGE_SECONDS: z.coerce
      .number('must be a number of seconds (age at which a record still failing is parked)')
      .int('must be a whole number of seconds (age at which a record still failing is parked)')
      .min(60, 'must be at least 60 seconds (age at which a record still failing is parked)')
      .optional(),
    /**
     * Seconds an entity keeps a hole, a record it went past without applying (lib/platform-spec.ts
     * `holeTtlSeconds`: the stream's retention and a day). Unset: two days.
     */
    HOLE_TTL_SECONDS: z.coerce
      .number('must be a number of seconds (how long an entity keeps a hole)')
      .int('must be a whole number of seconds (how long an entity keeps a hole)')
      .min(48 * 3600, 'must be at least 172800 seconds, two days (how long an entity keeps a hole)')
      .optional(),
  })
  .refine((c) => Boolean(c.PII_TOKEN_SECRET_ARN) !== Boolean(c.PII_TOKEN_KEY), {
    path: ['PII_TOKEN_SECRET_ARN'],
    message: 'exactly one of PII_TOKEN_SECRET_ARN and PII_TOKEN_KEY is required (the PII tokenization key)',
  })
  .refine((c) => Object.values(c.OFFLINE_OBJECT_KEYS).every((k) => offlineKeyId(c, k)), {
    path: ['OFFLINE_OBJECT_KEYS'],
    message:
      'names a key class whose key is not set (GENERAL_KMS_KEY_ID for general, PII_KMS_KEY_ID for pii)',
  })
  .refine((c) => Boolean(c.PII_KMS_KEY_ID) !== Boolean(c.PII_SEAL_KEY), {
    path: ['PII_KMS_KEY_ID'],
    message: 'exactly one of PII_KMS_KEY_ID and PII_SEAL_KEY is required (the key that seals raw payloads)',
  });
export type ProcessorConfig = z.infer<typeof processorConfigSchema>;

export const lookupConfigSchema = z.object({
  ONLINE_TABLE: name('DynamoDB online store table'),
  /** Entities one POST /v1/features:get may ask for (each group's keys are read 100 per BatchGetItem). */
  LOOKUP_MAX_ENTITIES: z.coerce.number().int().min(1).max(1000).default(100),
  /** IAM roles of this deployment are `<prefix>-<role>` (lib/access-roles.ts). */
  ACCESS_ROLE_PREFIX: name('deployment prefix of the access roles, e.g. fp-prod'),
  /** Milliseconds a DynamoDB request of the lookup may take (lookupDynamoDbClientConfig); local runs allow more. */
  LOOKUP_REQUEST_TIMEOUT_MS: z.coerce
    .number('must be a number of milliseconds (how long a lookup DynamoDB request may take)')
    .int('must be a whole number of milliseconds (how long a lookup DynamoDB request may take)')
    .min(100, 'must be at least 100 milliseconds (how long a lookup DynamoDB request may take)')
    .default(1_000),
});
export type LookupConfig = z.infer<typeof lookupConfigSchema>;

export const retentionConfigSchema = z.object({
  OFFLINE_BUCKET: name('S3 offline store bucket'),
  /** Days feature history and raw events are kept, by the UTC date of their partition (`dt=`). */
  OFFLINE_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500),
});
export type RetentionConfig = z.infer<typeof retentionConfigSchema>;

export function readConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    throw new ConfigError(`invalid function configuration: ${problems}`);
  }
  return parsed.data;
}

/**
 * SDK retries (standard mode: exponential backoff with jitter, a few more attempts than the default)
 * and timeouts. The SDK has none by default, so a connection that never answers would hold the call
 * until the function times out: a crash, which fails the whole batch and parks nothing, even records
 * near the age the mapping gives them up at. With them, the call fails, and the batch completes with
 * its failed records reported (and those near that age parked). They bound one call; the batch's
 * many calls are bounded by the invocation's deadline (shared/deadline.ts).
 */
export const sdkClientConfig = (
  requestTimeoutMs = SDK_REQUEST_TIMEOUT_MS,
  { maxAttempts = 5, connectionTimeoutMs = SDK_CONNECTION_TIMEOUT_MS } = {},
) =>
  ({
    maxAttempts,
    retryMode: 'standard',
    requestHandler: {
      connectionTimeout: connectionTimeoutMs,
      requestTimeout: requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  }) as const;

export const dynamoDbClientConfig = (requestTimeoutMs?: number): DynamoDBClientConfig => ({
  ...sdkClientConfig(requestTimeoutMs),
});

/** Milliseconds a lookup's DynamoDB connection may take to open. */
const LOOKUP_CONNECTION_TIMEOUT_MS = 1_000;
/**
 * The lookup API's DynamoDB client: a reader answering people and models waiting on it, so an
 * attempt may take a second (DynamoDB answers in milliseconds) and a call three attempts, and its
 * calls stop `lookupDeadlineReserveMs` before the function's timeout (shared/deadline.ts): the
 * request then gets a 503 to retry, and its audit line, instead of a timeout with neither.
 */
export const lookupDynamoDbClientConfig = (requestTimeoutMs = 1_000): DynamoDBClientConfig => ({
  ...sdkClientConfig(requestTimeoutMs, { maxAttempts: 3, connectionTimeoutMs: LOOKUP_CONNECTION_TIMEOUT_MS }),
});
/** An attempt in flight (a connection and a request timeout) and half a second for the answer. */
export const lookupDeadlineReserveMs = (requestTimeoutMs = 1_000): number =>
  LOOKUP_CONNECTION_TIMEOUT_MS + requestTimeoutMs + 500;

/**
 * What an S3-compatible endpoint (local s3rver) needs: path-style addressing and checksums only when
 * required; otherwise streamed bodies are stored with aws-chunked framing.
 */
export const S3_COMPATIBLE_ENDPOINT = {
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
} as const satisfies S3ClientConfig;

/** S3 client settings; `forcePathStyle` for an S3-compatible endpoint. */
export const s3ClientConfig = (forcePathStyle: boolean, requestTimeoutMs?: number): S3ClientConfig => ({
  ...sdkClientConfig(requestTimeoutMs),
  ...(forcePathStyle ? S3_COMPATIBLE_ENDPOINT : {}),
});
