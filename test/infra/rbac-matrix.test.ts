import type { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { ACCESS_ROLES } from '../../lib/access-roles.js';
import { SEAL_ENCRYPTION_CONTEXT } from '../../lib/platform-spec.js';
import { allows, keyPolicyAllowsAccount, principalOf, Resolver, type TemplateJson } from './iam-evaluator.js';
import { ENVIRONMENTS, logicalId, pick, synthesizeAll } from './platform-fixture.js';
import { asArray, identityPolicies, type Statement } from './policy-statements.js';
import { expectedActions, matrixResources, type Subject } from './rbac-expectations.js';

const all = synthesizeAll({ bundling: false });

/** Encryption contexts of direct key use: sealing (as the sealer makes it), none, and others. */
const SEAL = { ...SEAL_ENCRYPTION_CONTEXT };
const NONE = {};
const SERVICE = { 'aws:s3:arn': 'arn:aws:s3:::bucket/key' };
const OTHER_PURPOSE = { purpose: 'something-else' };
const SEAL_AND_MORE = { ...SEAL_ENCRYPTION_CONTEXT, 'aws:s3:arn': 'arn:aws:s3:::bucket/key' };
const scientists = ACCESS_ROLES.filter((r) => r.kind === 'data-scientist').map((r) => r.name);

describe.each(ENVIRONMENTS)('RBAC matrix (%s)', (name) => {
  const env = pick(all, name);
  const d = env.deployment;
  const stacks: [Stack, Template][] = [
    [d.data, env.data],
    [d.ingest, env.ingest],
    [d.serving, env.serving],
    [d.audit, env.audit],
    [d.access, env.access],
  ];
  const account = { partition: 'aws', region: d.environment.region, account: d.environment.account };
  const resolver = new Resolver(
    Object.fromEntries(stacks.map(([s, t]) => [s.stackName, t.toJSON() as TemplateJson])),
    account,
  );
  const keyId = (k: 'pii' | 'general') => logicalId(d.data, d.data.keys[k]);
  const keyArn = (k: 'pii' | 'general') =>
    resolver.resolveString(d.data.stackName, { 'Fn::GetAtt': [keyId(k), 'Arn'] });
  const keyPolicy = (k: 'pii' | 'general') =>
    resolver.statements(d.data.stackName, env.data.toJSON().Resources[keyId(k)].Properties.KeyPolicy);
  const keyPolicies = { pii: keyPolicy('pii'), general: keyPolicy('general') };
  const apiId = resolver.resolveString(d.serving.stackName, { Ref: logicalId(d.serving, d.serving.api.api) });
  const tokenSecretArn = resolver.resolveString(d.data.stackName, {
    Ref: d.data.getLogicalId(d.data.piiTokenSecret.secret),
  });
  const resources = matrixResources(d, keyArn, apiId, scientists, tokenSecretArn);
  /** The ARN a role's requests carry as `aws:PrincipalArn` (a placeholder when CloudFormation names the role). */
  const principalArn = (stack: Stack, roleId: string) => {
    const roleName = resolver.resolve(
      stack.stackName,
      (stack === d.ingest ? env.ingest : stack === d.serving ? env.serving : env.access).toJSON().Resources[
        roleId
      ].Properties.RoleName ?? { 'Fn::GetAtt': [roleId, 'Arn'] },
    );
    return String(roleName).startsWith('<')
      ? String(roleName)
      : `arn:aws:iam::${account.account}:role/${roleName}`;
  };

  const subjects: { subject: Subject; stack: Stack; roleId: string }[] = [
    ...ACCESS_ROLES.map((role) => {
      const declared = d.access.roles.get(role.name);
      if (!declared) throw new Error(`role ${role.name} was not created`);
      return { subject: role, stack: d.access as Stack, roleId: logicalId(d.access, declared.role) };
    }),
    {
      subject: { kind: 'processor', name: 'processor' },
      stack: d.ingest,
      roleId: logicalId(d.ingest, d.ingest.processor.executionRole.role),
    },
    {
      subject: { kind: 'lookup', name: 'lookup' },
      stack: d.serving,
      roleId: logicalId(d.serving, d.serving.lookup.executionRole.role),
    },
  ];

  /** Whether the subject's role may make `action` on the probed resource (its identity policies, and the key's policy). */
  const decider = ({ stack, roleId }: (typeof subjects)[number]) => {
    const statements = resolver.roleStatements(stack.stackName, roleId);
    expect(statements.length).toBeGreaterThan(0);
    const caller = principalArn(stack, roleId);
    return (resource: (typeof resources)[number], action: string) => {
      const request = {
        action,
        resource: resource.arn,
        context: { ...resource.context, 'aws:PrincipalArn': caller },
      };
      if (!allows(statements, request)) return false;
      const w = resource.what;
      return w.kind !== 'key' || keyPolicyAllowsAccount(keyPolicies[w.key], request, account);
    };
  };

  it.each(subjects.map((s) => [s.subject.name, s] as const))(
    'allows %s exactly the declared actions on every probed resource and denies the rest',
    (_, s) => {
      const { subject } = s;
      const decide = decider(s);
      const actual = Object.fromEntries(
        resources.map((r) => [r.id, r.actions.filter((a) => decide(r, a)).sort()]),
      );
      const expected = Object.fromEntries(
        resources.map((r) => [r.id, expectedActions(subject, r.what).sort()]),
      );
      expect(actual).toEqual(expected);
    },
  );

  it('separates duties: no role both deploys and administers keys or stores, or administers and reads stored data', () => {
    const probe = (id: string, action: string) => {
      const resource = resources.find((r) => r.id === id);
      if (!resource?.actions.includes(action)) throw new Error(`no probe ${action} on ${id}`);
      return (decide: ReturnType<typeof decider>) => decide(resource, action);
    };
    const duties = {
      deploys: probe('cdk deploy role', 'sts:AssumeRole'),
      administersKeys: probe('pii key direct', 'kms:ScheduleKeyDeletion'),
      administersStores: probe('stream', 'kinesis:UpdateShardCount'),
      readsData: probe('online table', 'dynamodb:GetItem'),
    };
    const held = Object.fromEntries(
      subjects.map((s) => {
        const decide = decider(s);
        return [s.subject.name, Object.keys(duties).filter((k) => duties[k as keyof typeof duties](decide))];
      }),
    );
    for (const [role, hers] of Object.entries(held))
      expect(hers.length, `${role}: ${hers}`).toBeLessThanOrEqual(1);
    expect(held).toMatchObject({
      deployer: ['deploys'],
      'key-admin': ['administersKeys'],
      admin: ['administersStores'],
    });
  });

  it('probes every role: each declared role and both function roles, on every resource and action', () => {
    const cells = subjects.length * resources.reduce((n, r) => n + r.actions.length, 0);
    expect(subjects).toHaveLength(ACCESS_ROLES.length + 2);
    expect(cells).toBeGreaterThanOrEqual(800);
  });

  it('denies every role requests to another region, whatever else the statement allows', () => {
    for (const { stack, roleId } of subjects) {
      const statements = resolver.roleStatements(stack.stackName, roleId);
      for (const resource of resources) {
        for (const action of resource.actions) {
          const request = {
            action,
            resource: resource.arn,
            context: { ...resource.context, 'aws:RequestedRegion': 'us-east-1' },
          };
          expect(allows(statements, request), `${roleId} ${action} on ${resource.id}`).toBe(false);
        }
      }
    }
  });

  it('lets only the processor role use a key directly, only the PII key, only for sealing data keys; and the data steward open what it sealed', () => {
    const processor = subjects.find((s) => s.subject.kind === 'processor');
    if (!processor) throw new Error('no processor subject');
    const processorArn = principalArn(processor.stack, processor.roleId);
    expect(processorArn).toBe(`arn:aws:iam::${account.account}:role/${d.names.processorRole}`);
    const steward = subjects.find((s) => s.subject.kind === 'steward');
    if (!steward) throw new Error('no steward subject');
    const stewardArn = principalArn(steward.stack, steward.roleId);
    const others = subjects
      .filter((s) => s !== processor && s !== steward)
      .map((s) => principalArn(s.stack, s.roleId));
    /** A direct call (no service), in an encryption context (none: a ciphertext made without one). */
    const direct = (
      k: 'pii' | 'general',
      action: string,
      caller?: string,
      ctx: Record<string, string> = SEAL,
    ) =>
      keyPolicyAllowsAccount(
        keyPolicies[k],
        {
          action,
          resource: keyArn(k),
          context: {
            'aws:RequestedRegion': account.region,
            ...principalOf(account.account),
            ...(caller ? { 'aws:PrincipalArn': caller } : {}),
            ...Object.fromEntries(Object.entries(ctx).map(([key, v]) => [`kms:EncryptionContext:${key}`, v])),
            ...(Object.keys(ctx).length ? { 'kms:EncryptionContextKeys': Object.keys(ctx) } : {}),
          },
        },
        account,
      );
    for (const k of ['pii', 'general'] as const) {
      for (const action of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt']) {
        expect(direct(k, action), `${k} ${action} without a principal`).toBe(false);
        for (const other of others) expect(direct(k, action, other), `${k} ${action} ${other}`).toBe(false);
      }
    }
    // The processor makes sealing data keys, in the sealing context only, and decrypts nothing directly.
    expect(direct('pii', 'kms:GenerateDataKey', processorArn)).toBe(true);
    for (const ctx of [NONE, SERVICE, OTHER_PURPOSE, SEAL_AND_MORE])
      expect(direct('pii', 'kms:GenerateDataKey', processorArn, ctx), JSON.stringify(ctx)).toBe(false);
    for (const ctx of [SEAL, NONE, SERVICE])
      expect(direct('pii', 'kms:Decrypt', processorArn, ctx), JSON.stringify(ctx)).toBe(false);
    expect(direct('pii', 'kms:Encrypt', processorArn)).toBe(false);
    expect(direct('pii', 'kms:ReEncryptFrom', processorArn)).toBe(false);
    expect(direct('general', 'kms:Decrypt', processorArn)).toBe(false);
    expect(direct('general', 'kms:GenerateDataKey', processorArn)).toBe(false);
    // Redrive opens parked records' payloads: sealing keys, and those sealed before the context (none);
    // never an AWS service's ciphertext (an S3 object's data key carries aws:s3:arn). It seals nothing,
    // and has no other key directly.
    expect(direct('pii', 'kms:Decrypt', stewardArn)).toBe(true);
    expect(direct('pii', 'kms:Decrypt', stewardArn, NONE)).toBe(true);
    for (const ctx of [SERVICE, OTHER_PURPOSE, SEAL_AND_MORE])
      expect(direct('pii', 'kms:Decrypt', stewardArn, ctx), JSON.stringify(ctx)).toBe(false);
    for (const action of ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:ReEncryptFrom'])
      expect(direct('pii', action, stewardArn), action).toBe(false);
    for (const action of ['kms:Decrypt', 'kms:GenerateDataKey'])
      expect(direct('general', action, stewardArn), action).toBe(false);
  });

  it("takes objects into the data buckets under the platform's own keys only", () => {
    const policyOf = (bucket: Construct) => {
      const policy = Object.values(
        env.data.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>,
      ).find(
        (r) =>
          r.Type === 'AWS::S3::BucketPolicy' &&
          JSON.stringify(r.Properties.Bucket).includes(logicalId(d.data, bucket)),
      );
      return resolver.statements(
        d.data.stackName,
        policy?.Properties.PolicyDocument as Parameters<typeof resolver.statements>[1],
      );
    };
    const put = (bucketArn: string, headers: Record<string, string>) => ({
      action: 's3:PutObject',
      resource: `${bucketArn}/features/group=merchant/dt=2026-01-01/b-1.parquet`,
      context: {
        'aws:RequestedRegion': account.region,
        ...principalOf(account.account),
        ...Object.fromEntries(
          Object.entries(headers).map(([k, v]) => [`s3:x-amz-server-side-encryption${k}`, v]),
        ),
      },
    });
    const foreign = `arn:aws:kms:${account.region}:999999999999:key/11111111-2222-3333-4444-555555555555`;
    const denied = (statements: ReturnType<typeof policyOf>, request: ReturnType<typeof put>) =>
      statements.some((st) => st.effect === 'Deny' && allows([{ ...st, effect: 'Allow' }], request));
    for (const bucket of [d.data.offlineBucket, d.data.sideOutputBucket, d.data.queryResultsBucket]) {
      const statements = policyOf(bucket);
      const name = resolver.resolveString(d.data.stackName, {
        'Fn::GetAtt': [logicalId(d.data, bucket), 'Arn'],
      });
      // Unnamed (the bucket's default), or either platform key, through SSE-KMS: taken.
      for (const headers of <Record<string, string>[]>[
        {},
        { '': 'aws:kms' },
        { '': 'aws:kms', '-aws-kms-key-id': keyArn('general') },
        { '-aws-kms-key-id': keyArn('pii') },
      ])
        expect(denied(statements, put(name, headers)), JSON.stringify(headers)).toBe(false);
      // Another account's key, or S3's own keys: refused.
      for (const headers of <Record<string, string>[]>[
        { '': 'aws:kms', '-aws-kms-key-id': foreign },
        { '': 'AES256' },
      ])
        expect(denied(statements, put(name, headers)), JSON.stringify(headers)).toBe(true);
    }
  });

  it('allows wildcard actions in bucket policies only to CDK object cleanup, only where data is not retained', () => {
    const allowed = Object.values(env.data.findResources('AWS::S3::BucketPolicy')).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Statement[]).filter(
        (st) => st.Effect === 'Allow' && asArray(st.Action).some((a) => a.includes('*')),
      ),
    );
    const cleanup = allowed.filter((st) =>
      JSON.stringify(st).includes('CustomS3AutoDeleteObjectsCustomResourceProviderRole'),
    );
    expect(cleanup).toEqual(allowed);
    expect(allowed.length > 0).toBe(d.environment.removalPolicy === 'destroy');
  });

  it('requires MFA to assume the deployer, key-admin, admin or steward role, or an IAM Identity Center session (its identity provider enforces MFA)', () => {
    const trustOf = (role: string) =>
      env.access.toJSON().Resources[
        logicalId(d.access, (d.access.roles.get(role) as { role: Construct }).role)
      ].Properties.AssumeRolePolicyDocument.Statement;
    const account = d.environment.account;
    for (const role of ['deployer', 'key-admin', 'admin', 'data-steward'])
      expect(trustOf(role)).toEqual([
        // Not BoolIfExists: long-term access keys carry no MFA key, and IfExists would let them in.
        expect.objectContaining({
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
        }),
        expect.objectContaining({
          Sid: 'IdentityCenterSessions',
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Condition: {
            ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${account}:role/aws-reserved/sso.amazonaws.com/*` },
          },
        }),
      ]);
    expect(trustOf('operator')[0].Condition).toBeUndefined();
  });

  it('names no wildcard action in any identity policy of the environment', () => {
    const actions = stacks.flatMap(([, template]) =>
      identityPolicies(template).flatMap((p) => p.statements.flatMap((s) => asArray(s.Action))),
    );
    expect(actions.length).toBeGreaterThan(50);
    expect(actions.filter((a) => /[*?]/.test(a))).toEqual([]);
  });

  it("denies the platform's keys and buckets to every principal of another account, and to none, whatever else their policies allow", () => {
    // A statement added by mistake that opens the resource to everyone: the perimeter still holds.
    const mistaken = (action: string) =>
      resolver.statements(d.data.stackName, {
        Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: action, Resource: '*' }],
      });
    const callers = {
      own: principalOf(account.account),
      other: principalOf('999999999999'),
      // CloudTrail, S3 server access logging, CloudWatch Logs acting as themselves: for this account,
      // without a source named, or for another account (a confused deputy).
      service: { 'aws:PrincipalIsAWSService': 'true', 'aws:SourceAccount': account.account },
      serviceUnnamed: { 'aws:PrincipalIsAWSService': 'true' },
      serviceForOther: { 'aws:PrincipalIsAWSService': 'true', 'aws:SourceAccount': '999999999999' },
      anonymous: {},
    };
    const decide = (statements: ReturnType<typeof mistaken>, action: string, resource: string) =>
      Object.fromEntries(
        Object.entries(callers).map(([who, ctx]) => [
          who,
          allows([...statements, ...mistaken(action)], {
            action,
            resource,
            context: { 'aws:RequestedRegion': account.region, 'aws:SecureTransport': 'true', ...ctx },
          }),
        ]),
      );
    const open = {
      own: true,
      other: false,
      service: true,
      serviceUnnamed: true,
      serviceForOther: false,
      anonymous: false,
    };
    for (const k of ['pii', 'general'] as const)
      for (const action of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:CreateGrant', 'kms:PutKeyPolicy'])
        expect(decide(keyPolicies[k], action, keyArn(k)), `${k} ${action}`).toEqual(open);
    const policies = Object.values(env.data.findResources('AWS::S3::BucketPolicy'));
    // Every bucket of the data stack (access logs, offline, side outputs, audit, query results).
    expect(policies).toHaveLength(Object.keys(env.data.findResources('AWS::S3::Bucket')).length);
    expect(policies.length).toBeGreaterThanOrEqual(5);
    for (const policy of policies) {
      const statements = resolver.statements(d.data.stackName, policy.Properties.PolicyDocument);
      const bucket = resolver.resolveString(d.data.stackName, {
        'Fn::GetAtt': [policy.Properties.Bucket.Ref, 'Arn'],
      });
      for (const [action, resource] of [
        ['s3:GetObject', `${bucket}/any/key`],
        ['s3:ListBucket', bucket],
        ['s3:PutBucketPolicy', bucket],
      ] as const)
        expect(decide(statements, action, resource), `${bucket} ${action}`).toEqual(open);
    }
  });
});
