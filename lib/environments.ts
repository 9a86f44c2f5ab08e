/**
 * Deployment environments as typed, validated configuration. The values live in cdk.json under
 * `context.environments`; a bad value fails synth with an error naming the field.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { z } from 'zod';
import { VPC_ENDPOINT_ID } from './constructs/lookup-api-defaults.js';

export const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

/** Retention periods CloudWatch Logs accepts (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/** One environment as written in cdk.json; its name is its key under `environments`. */
export const environmentValuesSchema = z
  .strictObject({
    /** AWS account to deploy to. */
    account: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id'),
    /** AWS region to deploy to; must be one of `allowedRegions` (data residency). */
    region: z.string().regex(REGION, 'must be an AWS region such as me-central-1'),
    /** Regions the environment's data may live in. */
    allowedRegions: z.array(z.string().regex(REGION, 'must be an AWS region')).nonempty(),
    /** Kinesis shards (provisioned mode). */
    shardCount: z.int().min(1).max(500),
    /** Kinesis retention, hours (AWS: 24-8760). */
    retentionHours: z.int().min(24).max(8760),
    /** What happens to stateful resources when the stack is deleted. */
    removalPolicy: z.enum(['destroy', 'retain']),
    /** CloudWatch Logs retention of functions and API access logs, days. */
    logRetentionDays: z.int().refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    }),
    /** Reserved concurrency of the lookup function (the processor's follows from the shards). */
    lookupReservedConcurrency: z.int().min(1),
    /** Days AWS Backup keeps the online table's daily recovery points (PITR covers the last 35 days). */
    backupRetentionDays: z.int().min(1).max(36500),
    /** Days the audit trail's log files and the S3 server access logs are kept. */
    auditRetentionDays: z.int().min(1).max(36500),
    /**
     * Days the offline store keeps feature history and raw events (storage limitation: GDPR art.
     * 5(1)(e), UAE PDPL): the bank's record-keeping period for them. Longer than the tiering delay.
     */
    offlineRetentionDays: z.int().min(31).max(36500),
    /**
     * Interface VPC endpoints (execute-api) the lookup API is served through. Set, the API is
     * private: reachable only through these endpoints (its resource policy refuses any other
     * source), never from the internet. Absent, it is regional and public, IAM-authorised behind
     * the web ACL. Production in a bank sets it (docs/security-and-compliance.md).
     */
    lookupApiVpcEndpointIds: z
      .array(
        z
          .string()
          .regex(VPC_ENDPOINT_ID, 'must be an interface VPC endpoint id such as vpce-0123456789abcdef0'),
      )
      .nonempty('must name at least one VPC endpoint, or be left out for a public regional API')
      .refine((ids) => new Set(ids).size === ids.length, 'must not repeat an endpoint')
      .optional(),
    /**
     * The layout the processor writes entity items and id buckets in (lambdas/adapters/
     * entity-item-codec.ts; every release reads all of them). Raise it only once every processor
     * and lookup function of the environment runs a release that reads it, and none will be rolled
     * back before it (layout 2: releases from 0d33549, 2026-11-26; layout 3: releases from
     * 45f8a52; layout 4: releases from 2ced32a; README "Upgrades and rollbacks").
     */
    entityItemLayout: z
      .literal([1, 2, 3, 4], 'must be 1, 2, 3 or 4 (the entity item layout the processor writes)')
      .default(1),
    /**
     * The IAM Identity Center permission set whose sessions alone may assume each privileged role
     * (by role name: deployer, key-admin, admin, data-steward; lib/access-stack.ts). Set for a role,
     * it is assumed from that permission set only, not by any MFA session or Identity Center
     * session of the account. No permission set may serve two of them: one sign-in would then hold
     * two separated duties. Unset, the account's administrators decide who may assume it.
     */
    identityCenterPermissionSets: z
      .record(z.string(), z.string().regex(/^[\w+=,.@-]{1,32}$/, 'must be a permission set name'))
      .refine(
        (sets) => new Set(Object.values(sets)).size === Object.values(sets).length,
        'must not name one permission set for two roles (it would hold two separated duties)',
      )
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (!env.allowedRegions.includes(env.region)) {
      ctx.addIssue({
        code: 'custom',
        path: ['region'],
        message: `${env.region} is not in allowedRegions (${env.allowedRegions.join(', ')})`,
      });
    }
  });

export type EnvironmentValues = z.infer<typeof environmentValuesSchema>;

/** A validated deployment environment. */
export interface Environment extends EnvironmentValues {
  readonly name: EnvironmentName;
}

/**
 * The buyer's residency requirement: production data stays in the UAE region. An environment
 * listed here may only allow (a subset of) these regions.
 */
export const REQUIRED_RESIDENCY: Readonly<Partial<Record<EnvironmentName, readonly string[]>>> = {
  prod: ['me-central-1'],
};

/** Environments whose stateful resources must survive stack deletion (deletion protection). */
export const MUST_RETAIN: readonly EnvironmentName[] = ['prod'];

/** All three environments must be declared; `z.record` over an enum is exhaustive. */
const environmentsSchema = z
  .record(z.enum(ENVIRONMENT_NAMES), environmentValuesSchema)
  .superRefine((envs, ctx) => {
    for (const name of ENVIRONMENT_NAMES) {
      const env = envs[name];
      const required = REQUIRED_RESIDENCY[name];
      const outside = required ? env.allowedRegions.filter((r) => !required.includes(r)) : [];
      if (outside.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: [name, 'allowedRegions'],
          message: `${outside.join(', ')} outside the required residency of ${name} (${required?.join(', ')})`,
        });
      }
      if (MUST_RETAIN.includes(name) && env.removalPolicy !== 'retain') {
        ctx.addIssue({
          code: 'custom',
          path: [name, 'removalPolicy'],
          message: `${name} must retain its data (deletion protection); got ${env.removalPolicy}`,
        });
      }
    }
  });

export class EnvironmentConfigError extends Error {
  override readonly name = 'EnvironmentConfigError';
}

function describeIssues(error: z.ZodError, root: string): string {
  return error.issues.map((i) => `${[root, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
}

/** The CDK context keys this module reads. */
export interface EnvironmentContext {
  /** The `environments` object from cdk.json. */
  readonly environments?: unknown;
  /** `-c env=<name>` selects one environment; absent means all of them. */
  readonly env?: unknown;
  /** `-c account=<id>` overrides the selected environment's account. */
  readonly account?: unknown;
}

/**
 * Validates the configuration and returns the selected environments, in declaration order.
 * Throws an {@link EnvironmentConfigError} naming every invalid field.
 */
export function selectEnvironments(context: EnvironmentContext): Environment[] {
  const { env, account } = context;
  if (env !== undefined && !(ENVIRONMENT_NAMES as readonly unknown[]).includes(env)) {
    throw new EnvironmentConfigError(`env: "${String(env)}" must be one of ${ENVIRONMENT_NAMES.join(', ')}`);
  }
  if (account !== undefined && env === undefined) {
    throw new EnvironmentConfigError(
      'account: overriding the account needs -c env=<name> to say which environment',
    );
  }
  const raw = context.environments;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new EnvironmentConfigError(
      'environments: missing from the CDK context (cdk.json) or not an object',
    );
  }
  const withOverride =
    account === undefined
      ? raw
      : {
          ...raw,
          [env as string]: { ...(raw as Record<string, object>)[env as string], account: String(account) },
        };
  const parsed = environmentsSchema.safeParse(withOverride);
  if (!parsed.success) throw new EnvironmentConfigError(describeIssues(parsed.error, 'environments'));
  const names = env === undefined ? ENVIRONMENT_NAMES : [env as EnvironmentName];
  return names.map((name) => ({ name, ...parsed.data[name] }));
}

/** The CDK removal policy of an environment's stateful resources. */
export const removalPolicyOf = (environment: Pick<Environment, 'removalPolicy'>): RemovalPolicy =>
  environment.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
