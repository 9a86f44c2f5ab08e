/**
 * The CloudFormation execution policy an environment's account is bootstrapped with
 * (lib/bootstrap-policy.ts, `npm run bootstrap-policy`): it grants what the environment's own
 * templates create, in its regions and under its names, and nothing else; and the permissions
 * boundary every role of the templates carries, which caps what any of them may be granted.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { deployerRoleNames } from '../../lib/access-roles.js';
import {
  awsManagedPoliciesAttached,
  BootstrapPolicyError,
  cloudFormationExecutionPolicy,
  deployerBoundaryName,
  deployerBoundaryPolicy,
  type PolicyDocument,
  permissionsBoundaryName,
  permissionsBoundaryPolicy,
  regionDenyServiceControlPolicy,
  roleActionsUsed,
  servicesUsed,
  type TemplateResources,
} from '../../lib/bootstrap-policy.js';
import { REPO_ROOT } from '../../lib/platform-spec.js';
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
  const deployers = deployerRoleNames(prefix);
  const stacks = [d.data, d.ingest, d.serving, d.audit, d.access];
  const templates = [env.data, env.ingest, env.serving, env.audit, env.access].map(
    (t) => t.toJSON() as TemplateResources,
  );
  const input = { account, allowedRegions, prefix, templates, deployerRoleNames: deployers };
  const statements = statementsOf(cloudFormationExecutionPolicy(input), region, account);
  const boundaryArn = `arn:aws:iam::${account}:policy/${permissionsBoundaryName(prefix)}`;
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
    const bounded = { 'iam:PermissionsBoundary': boundaryArn };
    expect(decide('iam:CreateRole', role(`${prefix}-processor-execution`), bounded)).toBe(true);
    expect(decide('iam:PassRole', role(`${prefix}-ingest-OfflineRetentionRole-ABC`))).toBe(true);
    expect(decide('iam:CreateRole', role('break-glass'), bounded)).toBe(false);
    expect(decide('iam:PassRole', role('OrganizationAccountAccessRole'))).toBe(false);
  });

  it('attaches to them only the AWS-managed policies the templates name, never AdministratorAccess', () => {
    const managed = awsManagedPoliciesAttached(templates);
    expect(managed).toContain('arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs');
    const attach = (policyArn: string) =>
      decide('iam:AttachRolePolicy', `arn:aws:iam::${account}:role/${prefix}-admin`, {
        'iam:PolicyARN': policyArn,
        'iam:PermissionsBoundary': boundaryArn,
      });
    for (const arn of managed) expect(attach(arn), arn).toBe(true);
    expect(attach(`arn:aws:iam::${account}:policy/${prefix}-access-RoleadminPolicy-XYZ`)).toBe(true);
    expect(attach('arn:aws:iam::aws:policy/AdministratorAccess')).toBe(false);
    expect(attach(`arn:aws:iam::${account}:policy/someone-elses`)).toBe(false);
  });

  const boundary = statementsOf(permissionsBoundaryPolicy(input), region, account);
  const deployerBoundary = statementsOf(deployerBoundaryPolicy(input), region, account);
  /** A request in the environment's region, or `where`. */
  const request = (action: string, resource = '*', where = region) => ({
    action,
    resource,
    context: { 'aws:RequestedRegion': where },
  });
  const cdkDeployRole = `arn:aws:iam::${account}:role/cdk-hnb659fds-deploy-role-${account}-${region}`;

  it('makes, and changes the permissions of, a role only with the boundary, which it never takes off or changes', () => {
    const role = `arn:aws:iam::${account}:role/${prefix}-processor-execution`;
    const withBoundary = { 'iam:PermissionsBoundary': boundaryArn };
    for (const action of [
      'iam:CreateRole',
      'iam:PutRolePolicy',
      'iam:AttachRolePolicy',
      'iam:DetachRolePolicy',
    ]) {
      const context: Record<string, string> =
        action === 'iam:AttachRolePolicy' || action === 'iam:DetachRolePolicy'
          ? { 'iam:PolicyARN': `arn:aws:iam::${account}:policy/${prefix}-ingest-ProcessorPolicy-X` }
          : {};
      expect(decide(action, role, { ...context, ...withBoundary }), action).toBe(true);
      expect(decide(action, role, context), `${action} without the boundary`).toBe(false);
      expect(
        decide(action, role, {
          ...context,
          'iam:PermissionsBoundary': `arn:aws:iam::${account}:policy/${prefix}-other`,
        }),
        `${action} with another boundary`,
      ).toBe(false);
    }
    expect(decide('iam:DeleteRolePermissionsBoundary', role, withBoundary)).toBe(false);
    // The deployer's boundary on a deployer role only: on any other, it would let that role deploy.
    const withDeployerBoundary = {
      'iam:PermissionsBoundary': `arn:aws:iam::${account}:policy/${deployerBoundaryName(prefix)}`,
    };
    expect(
      decide('iam:CreateRole', `arn:aws:iam::${account}:role/${prefix}-deployer`, withDeployerBoundary),
    ).toBe(true);
    expect(decide('iam:CreateRole', role, withDeployerBoundary)).toBe(false);
    expect(
      decide('iam:CreatePolicyVersion', `arn:aws:iam::${account}:policy/${deployerBoundaryName(prefix)}`),
    ).toBe(false);
    for (const action of ['iam:CreatePolicyVersion', 'iam:SetDefaultPolicyVersion', 'iam:DeletePolicy'])
      expect(decide(action, boundaryArn), action).toBe(false);
    // The stacks' own policies (named after them too) change with a deployment.
    expect(
      decide('iam:CreatePolicyVersion', `arn:aws:iam::${account}:policy/${prefix}-ingest-ProcessorPolicy-X`),
    ).toBe(true);
  });

  it("puts the boundary on every role of the templates, the deployer's on the deployers", () => {
    const roles = templates.flatMap((t) =>
      Object.entries(t.Resources ?? {}).filter(([, r]) => r.Type === 'AWS::IAM::Role'),
    );
    expect(roles.length).toBeGreaterThan(10);
    expect(deployers).toEqual([`${prefix}-deployer`]);
    for (const [id, r] of roles) {
      const deploys = deployers.includes(r.Properties?.RoleName as string);
      expect(JSON.stringify(r.Properties?.PermissionsBoundary ?? null), id).toContain(
        `:policy/${deploys ? deployerBoundaryName(prefix) : permissionsBoundaryName(prefix)}`,
      );
    }
    expect(roles.filter(([, r]) => deployers.includes(r.Properties?.RoleName as string))).toHaveLength(1);
  });

  it("leaves every role every action its policies grant, in the environment's regions only", () => {
    let checked = 0;
    for (const template of templates)
      for (const r of Object.values(template.Resources ?? {})) {
        if (r.Type !== 'AWS::IAM::ManagedPolicy') continue;
        // The boundary of the policy's role: the deployer's on a deployer.
        const [role] = ((r.Properties?.Roles as { Ref: string }[] | undefined) ?? []).map(
          ({ Ref }) => template.Resources?.[Ref]?.Properties?.RoleName,
        );
        const itsBoundary = deployers.includes(role as string) ? deployerBoundary : boundary;
        const document = r.Properties?.PolicyDocument as { Statement: { Action: string | string[] }[] };
        for (const statement of document.Statement)
          for (const action of [statement.Action].flat()) {
            // (The deployer assumes the CDK bootstrap roles.)
            const resource = action.startsWith('sts:') ? cdkDeployRole : '*';
            expect(allows(itsBoundary, request(action, resource)), action).toBe(true);
            expect(
              allows(itsBoundary, request(action, resource, 'eu-west-1')),
              `${action} in eu-west-1`,
            ).toBe(false);
            checked++;
          }
      }
    expect(checked).toBeGreaterThan(50);
    // The AWS-managed policies' services too: AWS Backup's role, the API's logging role.
    for (const action of [
      'backup:StartBackupJob',
      'dynamodb:CreateBackup',
      'tag:GetResources',
      'logs:PutLogEvents',
    ])
      expect(allows(boundary, request(action)), action).toBe(true);
  });

  it('grants no role IAM, Organizations, account changes, or an action or role to assume its policies do not name', () => {
    for (const action of [
      'iam:CreateRole',
      'iam:PutRolePolicy',
      'iam:AttachRolePolicy',
      'iam:CreateAccessKey',
      'organizations:LeaveOrganization',
      'account:PutAlternateContact',
      'sqs:SendMessage',
      'ec2:RunInstances',
      // Of services the platform uses, but no role's policy names them (found on review: the first
      // boundary allowed every action of those services).
      'cloudtrail:StopLogging',
      'lambda:UpdateFunctionCode',
      'kinesis:DeleteStream',
    ])
      expect(allows(boundary, request(action)), action).toBe(false);
    // No role but a deployer assumes a role: the CDK deploy role least of all.
    expect(allows(boundary, request('sts:AssumeRole', cdkDeployRole))).toBe(false);
    // A deployer assumes the CDK bootstrap roles, and does nothing else.
    expect(allows(deployerBoundary, request('sts:AssumeRole', cdkDeployRole))).toBe(true);
    for (const [action, resource] of [
      ['sts:AssumeRole', `arn:aws:iam::${account}:role/OrganizationAccountAccessRole`],
      ['s3:GetObject', '*'],
      ['kms:Decrypt', '*'],
      ['iam:CreateRole', '*'],
    ] as const)
      expect(allows(deployerBoundary, request(action, resource)), action).toBe(false);
  });

  it('can leave out the boundary statements for the one deploy that puts the boundary on roles made before it', () => {
    const migrating = statementsOf(
      cloudFormationExecutionPolicy(input, { enforceBoundary: false }),
      region,
      account,
    );
    const role = `arn:aws:iam::${account}:role/${prefix}-processor-execution`;
    const decideWith = (action: string, resource: string) => allows(migrating, request(action, resource));
    expect(decideWith('iam:DeleteRolePolicy', role)).toBe(true);
    expect(decideWith('iam:DeleteRolePermissionsBoundary', role)).toBe(true);
    expect(decideWith('iam:CreatePolicyVersion', boundaryArn)).toBe(false);
  });
});

describe('roleActionsUsed', () => {
  it('refuses an AWS-managed policy it does not know, naming it, and never leaves IAM', () => {
    const role = (arn: string) => ({
      Resources: { R: { Type: 'AWS::IAM::Role', Properties: { ManagedPolicyArns: [arn] } } },
    });
    expect(() => roleActionsUsed([role('arn:aws:iam::aws:policy/AdministratorAccess')])).toThrow(
      'R attaches the AWS-managed policy/AdministratorAccess',
    );
    expect(
      roleActionsUsed([role('arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole')]),
    ).toEqual(['logs:*']);
    const policy = {
      Resources: {
        P: {
          Type: 'AWS::IAM::ManagedPolicy',
          Properties: { PolicyDocument: { Statement: [{ Action: ['iam:PassRole', 'kinesis:GetRecords'] }] } },
        },
      },
    };
    expect(roleActionsUsed([policy])).toEqual(['kinesis:GetRecords']);
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

describe('npm run bootstrap-policy', () => {
  const cli = (args: readonly string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'bin/bootstrap-policy.ts', ...args], {
      cwd: REPO_ROOT,
    });

  it('prints the boundary with --boundary, and refuses --boundary with --scp, naming them', async () => {
    const { stdout } = await cli(['--env', 'prod', '--boundary']);
    const printed = JSON.parse(stdout) as PolicyDocument;
    expect(printed.Statement.map((s) => s.Sid)).toEqual([
      'PlatformActionsInItsRegions',
      'NoIdentityOrOrganisationChanges',
    ]);
    await expect(cli(['--env', 'prod', '--boundary', '--scp'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        '--boundary, --deployer-boundary, --scp and --before-boundary print different policies',
      ),
    });
  }, 120_000);
});
