import type { CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { authorize } from '../../lambdas/lookup/authorize.js';
import { consumerRouteArns } from '../../lib/access-permissions.js';
import {
  ACCESS_ROLES,
  type AccessRole,
  accessRoleName,
  accessRoleOf,
  type ConsumerRole,
  seesInClear,
  validateAccessRoles,
} from '../../lib/access-roles.js';
import { buildApp, type PlatformDeployment } from '../../lib/app-builder.js';
import { featureGroups } from '../../schemas/index.js';
import { cdkContext } from './platform-fixture.js';

const consumer = (over: Partial<ConsumerRole> = {}): ConsumerRole => ({
  kind: 'consumer',
  name: 'consumer-x',
  description: 'x',
  groups: ['merchant'],
  batch: false,
  clearance: 'confidential',
  ...over,
});

describe('access role declarations', () => {
  it('declares valid roles: every kind the issue names, and a steward for erasure and redrive', () => {
    expect(() => validateAccessRoles(ACCESS_ROLES, featureGroups)).not.toThrow();
    expect(new Set(ACCESS_ROLES.map((r) => r.kind))).toEqual(
      new Set([
        'producer',
        'consumer',
        'data-scientist',
        'operator',
        'deployer',
        'key-admin',
        'admin',
        'steward',
      ]),
    );
  });

  it.each<[string, AccessRole[], RegExp]>([
    [
      'an unknown group',
      [consumer({ groups: ['shop'] })],
      /consumer-x: groups names unknown feature group "shop"/,
    ],
    ['no group', [consumer({ groups: [] })], /consumer-x: groups must not be empty/],
    [
      'a group twice',
      [consumer({ groups: ['merchant', 'merchant'] })],
      /consumer-x: groups lists a group twice/,
    ],
    ['the same name twice', [consumer(), consumer()], /consumer-x: declared twice/],
    ['a name with capitals', [consumer({ name: 'Consumer' })], /access role Consumer: name must match/],
    [
      'a data scientist below the clearance of a group',
      [
        {
          kind: 'data-scientist',
          name: 'ds',
          description: 'x',
          groups: ['customer'],
          clearance: 'confidential',
        },
      ],
      /ds: group customer holds pii data above the role's clearance \(confidential\)/,
    ],
  ])('refuses %s, naming the role', (_, roles, message) => {
    expect(() => validateAccessRoles(roles, featureGroups)).toThrow(message);
  });

  it('accepts a batch consumer of some groups: the lookup handler checks the groups of a batch request', () => {
    const role = consumer({ batch: true });
    expect(() => validateAccessRoles([role], featureGroups)).not.toThrow();
    // What the relaxation relies on: the handler refuses a batch request naming a group outside the role's.
    const caller = 'arn:aws:sts::333333333333:assumed-role/fp-prod-consumer-x/s';
    const decide = (groups: string[]) => authorize('fp-prod', caller, { groups, batch: true }, [role]);
    expect(decide(['merchant']).ok).toBe(true);
    expect(decide(['merchant', 'customer'])).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/consumer-x may not read feature group\(s\) customer/),
    });
  });

  it.each([
    [
      'arn:aws:sts::333333333333:assumed-role/fp-prod-consumer-merchant-risk/session-1',
      'consumer-merchant-risk',
    ],
    ['arn:aws:iam::333333333333:role/fp-prod-operator', 'operator'],
    ['arn:aws:sts::333333333333:assumed-role/fp-dev-operator/s', undefined],
    ['arn:aws:iam::333333333333:user/alice', undefined],
  ])('recognises the declared role behind %s', (arn, expected) => {
    expect(accessRoleOf('fp-prod', arn)?.name).toBe(expected);
  });

  it('names roles after the environment prefix', () => {
    expect(accessRoleName('fp-prod', { name: 'admin' })).toBe('fp-prod-admin');
  });

  it('shows PII in clear only to roles cleared for it', () => {
    const cleared = ACCESS_ROLES.find((r) => r.name === 'data-scientist-pii');
    const fraud = ACCESS_ROLES.find((r) => r.name === 'consumer-fraud-scoring');
    if (!cleared || !fraud) throw new Error('roles missing');
    expect(seesInClear(cleared, 'pii')).toBe(true);
    expect(seesInClear(fraud, 'pii')).toBe(false);
    expect(seesInClear(fraud, 'confidential')).toBe(true);
    expect(seesInClear({ kind: 'admin', name: 'admin', description: '' }, 'public')).toBe(false);
  });

  it('scopes a consumer to the single-entity route of each of its groups, and the batch route only if declared', () => {
    const stage = 'arn:aws:execute-api:me-central-1:333333333333:abc123/api';
    expect(consumerRouteArns(consumer(), stage)).toEqual([`${stage}/GET/v1/features/merchant/*`]);
    expect(consumerRouteArns(consumer({ groups: ['customer', 'merchant'], batch: true }), stage)).toEqual([
      `${stage}/GET/v1/features/customer/*`,
      `${stage}/GET/v1/features/merchant/*`,
      `${stage}/POST/v1/features:get`,
    ]);
  });
});

describe('privileged roles bound to IAM Identity Center permission sets', () => {
  const sets = {
    deployer: 'FpDeployer',
    'key-admin': 'FpKeyAdmin',
    admin: 'FpAdmin',
    'data-steward': 'FpSteward',
  };
  const build = (identityCenterPermissionSets: Record<string, string>) => {
    const context = { ...cdkContext(), env: 'prod', 'aws:cdk:bundling-stacks': [] };
    context.environments.prod = { ...context.environments.prod, identityCenterPermissionSets };
    return buildApp(context, { builtinCloudFormationValidation: false }).deployments[0] as PlatformDeployment;
  };

  it('lets only sessions of its own permission set assume each: no MFA session, no other permission set', () => {
    const d = build(sets);
    const template = Template.fromStack(d.access);
    const account = d.environment.account;
    for (const [role, set] of Object.entries(sets)) {
      const declared = d.access.roles.get(role);
      const trust =
        template.toJSON().Resources[d.access.getLogicalId(declared?.role.node.defaultChild as CfnResource)]
          .Properties.AssumeRolePolicyDocument.Statement;
      expect(trust, role).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { AWS: expect.anything() },
          Condition: {
            ArnLike: {
              'aws:PrincipalArn': `arn:aws:iam::${account}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_${set}_*`,
            },
          },
        },
      ]);
    }
  });

  it('refuses a permission set for a role that is not privileged, naming the field', () => {
    expect(() => build({ operator: 'FpOperator' })).toThrow(
      /identityCenterPermissionSets\.operator names no privileged role/,
    );
  });
});
