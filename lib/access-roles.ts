/**
 * Who may do what, declared once as data (no CDK import). The access stack turns each declaration
 * into an IAM role (`<prefix>-<name>`) and a policy (lib/access-permissions.ts); the lookup handler
 * can read the same declarations to check a caller's groups and PII clearance behind IAM.
 */
import type { Classification, FeatureGroup } from '../schemas/index.js';
import { featureGroupsClassification, isAtMost } from './data-classification.js';

interface DeclaredRole {
  /** Role name without the environment prefix: `[a-z][a-z0-9-]*`, unique. */
  readonly name: string;
  /** What the role is for (IAM role description). */
  readonly description: string;
}

/** Writes events to the stream (PutRecord, PutRecords) and nothing else. */
export interface ProducerRole extends DeclaredRole {
  readonly kind: 'producer';
}

/** Calls the lookup API for some feature groups. */
export interface ConsumerRole extends DeclaredRole {
  readonly kind: 'consumer';
  /** Groups whose single-entity route (`GET /v1/features/{group}/...`) the role may call. */
  readonly groups: readonly string[];
  /**
   * May call the routes that span groups (`POST /v1/features:get`). IAM cannot scope them by group;
   * the lookup handler refuses a request naming any group outside `groups` (lambdas/lookup/authorize.ts).
   */
  readonly batch: boolean;
  /** The most sensitive classification the role sees in clear; more sensitive values are masked. */
  readonly clearance: Classification;
}

/** Reads the offline history of some groups through Athena, in its own workgroup. */
export interface DataScientistRole extends DeclaredRole {
  readonly kind: 'data-scientist';
  /** Groups whose offline prefix (`features/group=<g>/`) and Glue table the role may read. */
  readonly groups: readonly string[];
  /** The most sensitive classification the role may read; decides the keys it may decrypt with. */
  readonly clearance: Classification;
}

/** Watches and throttles the pipeline (metrics, alarms, logs, concurrency); reads no data. */
export interface OperatorRole extends DeclaredRole {
  readonly kind: 'operator';
}

/**
 * Deploys the platform through the CDK bootstrap roles; administers nothing directly, reads no data.
 * (What a deployment may do is the bootstrap's CloudFormation execution policy: README, Deploying.)
 */
export interface DeployerRole extends DeclaredRole {
  readonly kind: 'deployer';
}

/**
 * Administers the platform's KMS keys (rotation, aliases, enabling, deletion schedule), not their
 * policies (changed only by a deployment); uses none, reads no data.
 */
export interface KeyAdminRole extends DeclaredRole {
  readonly kind: 'key-admin';
}

/** Administers the stores (backups, shard count, the stream's retention) and reviews the trail; reads no data. */
export interface AdminRole extends DeclaredRole {
  readonly kind: 'admin';
}

/**
 * Runs the operations that must read and rewrite stored data, raw payloads included: erasure
 * (`npm run forget`) and redrive (`npm run redrive`). Cannot delete erasure records.
 */
export interface StewardRole extends DeclaredRole {
  readonly kind: 'steward';
}

export type AccessRole =
  | ProducerRole
  | ConsumerRole
  | DataScientistRole
  | OperatorRole
  | DeployerRole
  | KeyAdminRole
  | AdminRole
  | StewardRole;
export type AccessRoleKind = AccessRole['kind'];

/** The platform's roles. A role is added here, never by hand in a stack. */
export const ACCESS_ROLES: readonly AccessRole[] = [
  {
    kind: 'producer',
    name: 'producer-payments',
    description: 'Payments switch: writes transaction events to the stream',
  },
  {
    kind: 'consumer',
    name: 'consumer-fraud-scoring',
    description: 'Fraud scoring service: looks up customer and merchant features, PII masked',
    groups: ['customer', 'merchant'],
    batch: true,
    clearance: 'confidential',
  },
  {
    kind: 'consumer',
    name: 'consumer-merchant-risk',
    description: 'Merchant risk service: looks up merchant features only',
    groups: ['merchant'],
    batch: false,
    clearance: 'confidential',
  },
  {
    kind: 'data-scientist',
    name: 'data-scientist',
    description: 'Data scientists: merchant feature history through Athena, no PII',
    groups: ['merchant'],
    clearance: 'confidential',
  },
  {
    kind: 'data-scientist',
    name: 'data-scientist-pii',
    description: 'Data scientists cleared for PII: customer and merchant feature history through Athena',
    groups: ['customer', 'merchant'],
    clearance: 'pii',
  },
  { kind: 'operator', name: 'operator', description: 'On-call operator: metrics, alarms, logs, throttling' },
  // Deploying, administering keys and administering stores are three roles (separation of duties):
  // one set of credentials cannot both change a key's policy and deploy, or restore a table.
  { kind: 'deployer', name: 'deployer', description: 'Deploys the platform (cdk deploy); reads no data' },
  {
    kind: 'key-admin',
    name: 'key-admin',
    description:
      'Key administrator: rotation, aliases, enabling and deletion of the KMS keys (not their policies); uses none, reads no data',
  },
  {
    kind: 'admin',
    name: 'admin',
    description:
      'Platform administrator: backups, shard count and retention of the stores, the trail status; reads no data',
  },
  {
    kind: 'steward',
    name: 'data-steward',
    description: 'Data protection and operations: erasure (npm run forget) and redrive (npm run redrive)',
  },
];

export class AccessRoleError extends Error {
  override readonly name = 'AccessRoleError';
}

const NAME = /^[a-z][a-z0-9-]{1,40}$/;

/** Throws an {@link AccessRoleError} naming the role and field of the first contradiction found. */
export function validateAccessRoles(roles: readonly AccessRole[], groups: readonly FeatureGroup[]): void {
  const byName = new Map(groups.map((g) => [g.name, g]));
  const seen = new Set<string>();
  for (const role of roles) {
    const where = `access role ${role.name}`;
    if (!NAME.test(role.name)) throw new AccessRoleError(`${where}: name must match ${NAME}`);
    if (seen.has(role.name)) throw new AccessRoleError(`${where}: declared twice`);
    seen.add(role.name);
    if (role.kind !== 'consumer' && role.kind !== 'data-scientist') continue;
    if (role.groups.length === 0) throw new AccessRoleError(`${where}: groups must not be empty`);
    for (const name of role.groups) {
      const group = byName.get(name);
      if (!group) throw new AccessRoleError(`${where}: groups names unknown feature group "${name}"`);
      const level = featureGroupsClassification([group]);
      if (role.kind === 'data-scientist' && !isAtMost(level, role.clearance)) {
        throw new AccessRoleError(
          `${where}: group ${name} holds ${level} data above the role's clearance (${role.clearance}); ` +
            'offline files cannot be masked, so raise the clearance or drop the group',
        );
      }
    }
    if (new Set(role.groups).size !== role.groups.length) {
      throw new AccessRoleError(`${where}: groups lists a group twice`);
    }
  }
}

/** Physical IAM role name of a declared role, e.g. `fp-prod-consumer-fraud-scoring`. */
export const accessRoleName = (prefix: string, role: Pick<AccessRole, 'name'>): string =>
  `${prefix}-${role.name}`;

/**
 * The declared role a caller's ARN belongs to (`arn:aws:sts::<account>:assumed-role/<role>/<session>`
 * or `arn:aws:iam::<account>:role/<role>`), or undefined: for the lookup handler's own checks.
 */
export function accessRoleOf(
  prefix: string,
  principalArn: string,
  roles: readonly AccessRole[] = ACCESS_ROLES,
): AccessRole | undefined {
  const match = /^arn:[^:]+:(?:sts|iam)::\d{12}:(?:assumed-role|role)\/([^/]+)/.exec(principalArn);
  return match ? roles.find((r) => accessRoleName(prefix, r) === match[1]) : undefined;
}

/** Whether the role may see values of `classification` in clear (consumers: masking; others: no data). */
export const seesInClear = (role: AccessRole, classification: Classification): boolean =>
  (role.kind === 'consumer' || role.kind === 'data-scientist') && isAtMost(classification, role.clearance);

/** The roles that deploy (assume the CDK bootstrap roles): they carry the deployer's boundary. */
export const deployerRoles = (roles: readonly AccessRole[] = ACCESS_ROLES): AccessRole[] =>
  roles.filter((r) => r.kind === 'deployer');

/** Their names. */
export const deployerRoleNames = (prefix: string, roles: readonly AccessRole[] = ACCESS_ROLES): string[] =>
  deployerRoles(roles).map((r) => accessRoleName(prefix, r));
