/**
 * The CloudFormation execution policy an environment's account is bootstrapped with
 * (lib/bootstrap-policy.ts, `npm run bootstrap-policy`): it grants what the environment's own
 * templates create, in its regions and under its names, and nothing else.
 */
import { describe, expect, it } from 'vitest';
import {
  awsManagedPoliciesAttached,
  BootstrapPolicyError,
  cloudFormationExecutionPolicy,
  type PolicyDocument,
  regionDenyServiceControlPolicy,
  servicesUsed,
  type TemplateResources,
} from '../../lib/bootstrap-policy.js';
import { allows, Resolver } from './iam-evaluator.js';
import { ENVIRONMENTS, pick, synthesizeAll } from './platform-fixture.js';

const all = synthesizeAll({ bundling: false });

/** A policy's statements as the RBAC evaluator reads them (it names no template resource). */
const statementsOf = (policy: PolicyDocument, region: string, account: string) =>
  new Resolver({}, { partition: 'aws', region, account }).statements(
    'none',
    policy as unknown as Record<string, unknown>,
  );

describe.each(ENVIRONMENTS)('CloudFormation execution policy (%s)', (name) => {
  const env = pick(all, name);
  const d = env.deployment;
  const { account, allowedRegions, region } = d.environment;
  const prefix = d.names.prefix;
  const stacks = [d.data, d.ingest, d.serving, d.audit, d.access];
  const templates = [env.data, env.ingest, env.serving, env.audit, env.access].map(
    (t) => t.toJSON() as TemplateResources,
  );
  const policy = cloudFormationExecutionPolicy({ account, allowedRegions, prefix, templates });
  const statements = statementsOf(policy, region, account);
  const decide = (action: string, resource: string, context: Record<string, string> = {}) =>
    allows(statements, { action, resource, context: { 'aws:RequestedRegion': region, ...context } });

  it("grants the services of the environment's own resources, in its regions only", () => {
    const services = servicesUsed(templates);
    expect(services).toEqual(expect.arrayContaining(['dynamodb', 'kinesis', 'kms', 'lambda', 's3']));
    expect(
      decide('kinesis:CreateStream', `arn:aws:kinesis:${region}:${account}:stream/${prefix}-events`),
    ).toBe(true);
    expect(decide('s3:CreateBucket', 'arn:aws:s3:::any', { 'aws:RequestedRegion': 'us-east-1' })).toBe(false);
    // Services none of its resources use.
    for (const action of [
      'sqs:CreateQueue',
      'ec2:RunInstances',
      'iam:CreateUser',
      'organizations:LeaveOrganization',
    ])
      expect(decide(action, '*'), action).toBe(false);
  });

  it("creates and passes only roles and policies named after the environment's stacks", () => {
    for (const [i, template] of templates.entries())
      for (const [id, r] of Object.entries(template.Resources ?? {})) {
        if (r.Type !== 'AWS::IAM::Role' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
        // Named: by the platform's prefix; unnamed: CloudFormation names it `<stack>-<id>-<suffix>`.
        const named = (r.Properties?.RoleName ?? r.Properties?.ManagedPolicyName) as string | undefined;
        expect(named ?? `${stacks[i]?.stackName}-${id}`, id).toMatch(new RegExp(`^${prefix}-`));
      }
    const role = (n: string) => `arn:aws:iam::${account}:role/${n}`;
    expect(decide('iam:CreateRole', role(`${prefix}-processor-execution`))).toBe(true);
    expect(decide('iam:PassRole', role(`${prefix}-ingest-OfflineRetentionRole-ABC`))).toBe(true);
    expect(decide('iam:CreateRole', role('break-glass'))).toBe(false);
    expect(decide('iam:PassRole', role('OrganizationAccountAccessRole'))).toBe(false);
  });

  it('attaches to them only the AWS-managed policies the templates name, never AdministratorAccess', () => {
    const managed = awsManagedPoliciesAttached(templates);
    expect(managed).toContain('arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs');
    const attach = (policyArn: string) =>
      decide('iam:AttachRolePolicy', `arn:aws:iam::${account}:role/${prefix}-admin`, {
        'iam:PolicyARN': policyArn,
      });
    for (const arn of managed) expect(attach(arn), arn).toBe(true);
    expect(attach(`arn:aws:iam::${account}:policy/${prefix}-access-RoleadminPolicy-XYZ`)).toBe(true);
    expect(attach('arn:aws:iam::aws:policy/AdministratorAccess')).toBe(false);
    expect(attach(`arn:aws:iam::${account}:policy/someone-elses`)).toBe(false);
  });
});

describe('regionDenyServiceControlPolicy', () => {
  const { allowedRegions } = pick(all, 'prod').deployment.environment;
  const scp = statementsOf(regionDenyServiceControlPolicy(allowedRegions), 'me-central-1', '1');
  // An SCP grants nothing: what it does not deny, the account's own policies decide.
  const denied = (action: string, region: string) =>
    scp.some(
      (s) =>
        s.effect === 'Deny' &&
        allows([{ ...s, effect: 'Allow' }], {
          action,
          resource: '*',
          context: { 'aws:RequestedRegion': region },
        }),
    );

  it('denies every regional service outside the allowed regions, and nothing inside them', () => {
    expect(allowedRegions).toEqual(['me-central-1']);
    for (const action of ['s3:CreateBucket', 'dynamodb:CreateTable', 'kms:CreateKey', 'ec2:RunInstances'])
      for (const [region, expected] of [
        ['me-central-1', false],
        ['eu-west-1', true],
        ['us-east-1', true],
      ] as const)
        expect(denied(action, region), `${action} in ${region}`).toBe(expected);
  });

  it('leaves the global services, whose one endpoint is in us-east-1: identity, organisation, support, billing', () => {
    for (const action of [
      'iam:CreateRole',
      'sts:AssumeRole',
      'organizations:DescribeOrganization',
      'support:CreateCase',
    ])
      expect(denied(action, 'us-east-1'), action).toBe(false);
    expect(() => regionDenyServiceControlPolicy([])).toThrow(BootstrapPolicyError);
  });
});

describe('servicesUsed', () => {
  it('refuses a resource of a service the policy does not grant, naming it', () => {
    expect(() =>
      servicesUsed([
        { Resources: { Queue: { Type: 'AWS::SQS::Queue' }, Bucket: { Type: 'AWS::S3::Bucket' } } },
      ]),
    ).toThrow(BootstrapPolicyError);
    expect(() => servicesUsed([{ Resources: { Queue: { Type: 'AWS::SQS::Queue' } } }])).toThrow(
      'Queue is a AWS::SQS::Queue',
    );
    expect(servicesUsed([{ Resources: { X: { Type: 'Custom::S3AutoDeleteObjects' } } }])).toEqual([]);
  });
});
