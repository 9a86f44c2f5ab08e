/**
 * The CloudFormation execution policy to bootstrap an environment's account with, instead of the
 * AdministratorAccess a default `cdk bootstrap` gives CloudFormation (so whoever deploys could
 * deploy anything: docs/security-and-compliance.md, the deployer role), and the permissions
 * boundary every role of the platform carries. Both are derived from the environment's synthesized
 * templates. The execution policy holds exactly the services they use:
 * - every action of those services, in the environment's allowed regions only (`aws:RequestedRegion`);
 * - IAM roles and customer-managed policies named after the environment's stacks only (`fp-<env>-*`:
 *   CloudFormation names the unnamed ones `<stack>-<id>-<suffix>`), with the AWS-managed policies
 *   the templates attach and no other;
 * - a role only with the boundary (`fp-<env>-permissions-boundary`, or the deployer's on the deployer),
 *   which no deployment may take off a role or change;
 * - the CDK bootstrap version parameter;
 * - nothing else: no IAM user, no other role, no service the templates do not use.
 * The boundary caps what any role a template makes may do, whatever its policies say: the actions
 * the templates' role policies name (every action of the services the AWS-managed policies they
 * attach use), in the allowed regions; no role to assume; no IAM, Organizations or account change at
 * all. So a deployment that gives an `fp-<env>-*` role `iam:*`, an action no role's policy names or a
 * role to assume grants nothing beyond that. The deployer carries a boundary of its own
 * (`fp-<env>-deployer-boundary`: the CDK bootstrap roles to assume, nothing else), on no other role.
 * What it does not bound: a role's trust (a template may still make a role assumable by another
 * account, within the boundary), and which resources of those services a role reaches in the region.
 * A template using a resource type of a service not listed in `SERVICES`, or attaching an AWS-managed
 * policy not in `AWS_MANAGED_POLICY_SERVICES`, fails here, naming it, so either is a reviewed change
 * to these policies. Used by `npm run bootstrap-policy`.
 */

/** The IAM service prefixes a CloudFormation resource type's service needs. */
const SERVICES: Readonly<Record<string, readonly string[]>> = {
  'AWS::ApiGateway': ['apigateway'],
  'AWS::Athena': ['athena'],
  // A vault stores recovery points through backup-storage.
  'AWS::Backup': ['backup', 'backup-storage'],
  'AWS::CloudTrail': ['cloudtrail'],
  'AWS::CloudWatch': ['cloudwatch'],
  'AWS::DynamoDB': ['dynamodb'],
  'AWS::Events': ['events'],
  'AWS::Glue': ['glue'],
  'AWS::KMS': ['kms'],
  'AWS::Kinesis': ['kinesis'],
  'AWS::Lambda': ['lambda'],
  'AWS::Logs': ['logs'],
  'AWS::S3': ['s3'],
  'AWS::SNS': ['sns'],
  'AWS::SecretsManager': ['secretsmanager'],
  'AWS::WAFv2': ['wafv2'],
  // Its own statement (global, by name).
  'AWS::IAM': [],
  // Metadata; custom resources are Lambda functions of the stack (lambda:InvokeFunction).
  'AWS::CDK': [],
};

/**
 * The services whose actions the AWS-managed policies the templates attach to roles use (what the
 * boundary must leave them): AWS Backup's role backs up DynamoDB tables under their KMS keys, finding
 * them by tag; the others write logs.
 */
const AWS_MANAGED_POLICY_SERVICES: Readonly<Record<string, readonly string[]>> = {
  'policy/service-role/AWSBackupServiceRolePolicyForBackup': ['backup', 'dynamodb', 'kms', 'tag'],
  'policy/service-role/AWSLambdaBasicExecutionRole': ['logs'],
  'policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs': ['logs'],
};

/** Services the boundary never leaves a role, whatever its policies say. */
const NEVER_IN_A_ROLE = ['account', 'iam', 'organizations'] as const;

/** What of a synthesized template the policy is derived from. */
export interface TemplateResources {
  readonly Resources?: Readonly<
    Record<string, { readonly Type: string; readonly Properties?: Readonly<Record<string, unknown>> }>
  >;
}

export interface BootstrapPolicyInput {
  readonly account: string;
  /** The roles that deploy (assume the CDK bootstrap roles): they alone carry the deployer's boundary. */
  readonly deployerRoleNames: readonly string[];
  readonly allowedRegions: readonly string[];
  /** The environment's name prefix (`fp-<env>`): every stack, role and policy name starts with it. */
  readonly prefix: string;
  readonly templates: readonly TemplateResources[];
}

/** An IAM policy document, as these policies are written (an action list or, for an SCP, its complement). */
export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly ({
    readonly Sid: string;
    readonly Effect: 'Allow' | 'Deny';
    readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
  } & ({ readonly Action: string | readonly string[] } | { readonly NotAction: readonly string[] }) &
    ({ readonly Resource: string | readonly string[] } | { readonly NotResource: readonly string[] }))[];
}

export class BootstrapPolicyError extends Error {
  override readonly name = 'BootstrapPolicyError';
}

/** The service namespace of a resource type (`AWS::S3::Bucket` → `AWS::S3`; `Custom::*` → `AWS::CDK`). */
const namespaceOf = (type: string): string =>
  type.startsWith('Custom::') ? 'AWS::CDK' : type.split('::').slice(0, 2).join('::');

/** The IAM prefixes the templates' resources need, sorted; throws naming a type of an unlisted service. */
export function servicesUsed(templates: readonly TemplateResources[]): string[] {
  const services = new Set<string>();
  for (const template of templates)
    for (const [id, { Type }] of Object.entries(template.Resources ?? {})) {
      const needs = SERVICES[namespaceOf(Type)];
      if (!needs)
        throw new BootstrapPolicyError(
          `${id} is a ${Type}, of a service the CloudFormation execution policy does not grant ` +
            '(lib/bootstrap-policy.ts SERVICES): add it there, reviewed',
        );
      for (const s of needs) services.add(s);
    }
  return [...services].sort();
}

/** The AWS-managed policies the templates attach to their roles (`ManagedPolicyArns`), as ARNs. */
export function awsManagedPoliciesAttached(templates: readonly TemplateResources[]): string[] {
  const arns = new Set<string>();
  for (const template of templates)
    for (const r of Object.values(template.Resources ?? {}))
      for (const name of awsManagedPolicyNames(r)) arns.add(`arn:aws:iam::aws:${name}`);
  return [...arns].sort();
}

/**
 * The AWS-managed policies a template resource attaches, if it is a role (`ManagedPolicyArns`, an ARN
 * written with intrinsics): each as `policy/<path and name>`.
 */
function awsManagedPolicyNames(r: {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
}): string[] {
  if (r.Type !== 'AWS::IAM::Role') return [];
  return ((r.Properties?.ManagedPolicyArns as unknown[] | undefined) ?? []).flatMap((arn) => {
    const name = /:iam::aws:(policy\/[A-Za-z0-9/_+=,.@-]+)/.exec(JSON.stringify(arn))?.[1];
    return name === undefined ? [] : [name];
  });
}

/** Requests to the environment's regions only. */
const inRegions = (allowedRegions: readonly string[]) => ({
  StringEquals: { 'aws:RequestedRegion': [...allowedRegions] },
});

/** The name of the environment's permissions boundary, a managed policy made at bootstrap. */
export const permissionsBoundaryName = (prefix: string): string => `${prefix}-permissions-boundary`;

/** The name of the deployer roles' boundary (`deployerBoundaryPolicy`), made at bootstrap too. */
export const deployerBoundaryName = (prefix: string): string => `${prefix}-deployer-boundary`;

/** The CDK bootstrap roles of the account (default qualifier), which only a deployer assumes. */
const cdkBootstrapRoles = (account: string): string =>
  `arn:aws:iam::${account}:role/cdk-hnb659fds-*-role-${account}-*`;

/** The actions of an IAM policy statement (`Action` as a string or a list). */
const actionsOf = (statement: { readonly Action?: unknown }): string[] =>
  typeof statement.Action === 'string'
    ? [statement.Action]
    : Array.isArray(statement.Action)
      ? statement.Action.filter((a): a is string => typeof a === 'string')
      : [];

/**
 * The actions the templates' roles are granted, sorted: exactly those of their customer-managed and
 * inline policies, and every action of the services the AWS-managed policies they attach use
 * (`AWS_MANAGED_POLICY_SERVICES`; another fails, naming it). Never IAM, Organizations or the account.
 */
export function roleActionsUsed(templates: readonly TemplateResources[]): string[] {
  const actions = new Set<string>();
  const documents: { Statement?: unknown }[] = [];
  for (const template of templates)
    for (const [id, r] of Object.entries(template.Resources ?? {})) {
      const p = r.Properties ?? {};
      if (r.Type === 'AWS::IAM::ManagedPolicy' || r.Type === 'AWS::IAM::Policy')
        documents.push(p.PolicyDocument as { Statement?: unknown });
      if (r.Type !== 'AWS::IAM::Role') continue;
      for (const inline of (p.Policies as { PolicyDocument: { Statement?: unknown } }[] | undefined) ?? [])
        documents.push(inline.PolicyDocument);
      for (const name of awsManagedPolicyNames(r)) {
        const needs = AWS_MANAGED_POLICY_SERVICES[name];
        if (!needs)
          throw new BootstrapPolicyError(
            `${id} attaches the AWS-managed ${name}, which the permissions boundary does not know ` +
              '(lib/bootstrap-policy.ts AWS_MANAGED_POLICY_SERVICES): add the services it uses there, reviewed',
          );
        for (const s of needs) actions.add(`${s}:*`);
      }
    }
  for (const document of documents) {
    const statements = document?.Statement;
    for (const statement of (Array.isArray(statements) ? statements : [statements]) as { Action?: unknown }[])
      for (const action of actionsOf(statement ?? {})) actions.add(action);
  }
  return [...actions]
    .filter((a) => !(NEVER_IN_A_ROLE as readonly string[]).includes(a.split(':')[0] as string))
    .sort();
}

const noIdentityChanges = {
  Sid: 'NoIdentityOrOrganisationChanges',
  Effect: 'Deny' as const,
  Action: NEVER_IN_A_ROLE.map((s) => `${s}:*`),
  Resource: '*',
};

/**
 * The permissions boundary of every role the environment's stacks make but the deployers'
 * (`permissionsBoundaryName`): the actions their policies grant, in the allowed regions; no role to
 * assume; never IAM, Organizations or the account. So a template granting a role anything else (a
 * service's every action, the CDK deploy role to assume) grants nothing of it.
 */
export function permissionsBoundaryPolicy(input: BootstrapPolicyInput): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'PlatformActionsInItsRegions',
        Effect: 'Allow',
        Action: roleActionsUsed(input.templates).filter((a) => !a.startsWith('sts:')),
        Resource: '*',
        Condition: inRegions(input.allowedRegions),
      },
      noIdentityChanges,
    ],
  };
}

/**
 * The deployer roles' boundary (`deployerBoundaryName`): assuming the CDK bootstrap roles, in the
 * allowed regions, and nothing else, whatever their policies say.
 */
export function deployerBoundaryPolicy(input: BootstrapPolicyInput): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AssumeTheCdkBootstrapRolesOnly',
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: cdkBootstrapRoles(input.account),
        Condition: inRegions(input.allowedRegions),
      },
      noIdentityChanges,
    ],
  };
}

const ROLE_CHANGES = [
  'iam:CreateRole',
  'iam:PutRolePermissionsBoundary',
  'iam:PutRolePolicy',
  'iam:DeleteRolePolicy',
  'iam:AttachRolePolicy',
  'iam:DetachRolePolicy',
];

/**
 * Every role is made with a boundary of the environment's (the deployer's on the deployer roles
 * only), a role's permissions change only while it has it, and it stays.
 */
const boundaryKept = (
  boundaryArn: string,
  deployerBoundaryArn: string,
  deployerRoles: readonly string[],
): PolicyDocument['Statement'] => [
  {
    Sid: 'RolesOnlyWithTheBoundary',
    Effect: 'Deny',
    Action: ROLE_CHANGES,
    Resource: '*',
    Condition: { StringNotEquals: { 'iam:PermissionsBoundary': [boundaryArn, deployerBoundaryArn] } },
  },
  {
    Sid: 'DeployerBoundaryOnTheDeployersOnly',
    Effect: 'Deny',
    Action: ROLE_CHANGES,
    NotResource: [...deployerRoles],
    Condition: { StringEquals: { 'iam:PermissionsBoundary': deployerBoundaryArn } },
  },
  { Sid: 'KeepTheBoundary', Effect: 'Deny', Action: 'iam:DeleteRolePermissionsBoundary', Resource: '*' },
];

/**
 * `enforceBoundary: false` leaves out the statements that make a role only with the boundary and
 * keep it: for the one deploy that puts the boundary on an environment deployed before it (its
 * roles have none, so CloudFormation could neither update nor roll them back under those
 * statements); bootstrap again with them afterwards.
 */
export function cloudFormationExecutionPolicy(
  input: BootstrapPolicyInput,
  { enforceBoundary = true }: { readonly enforceBoundary?: boolean } = {},
): PolicyDocument {
  const { account, prefix } = input;
  const iamArn = (kind: string) => `arn:aws:iam::${account}:${kind}/${prefix}-*`;
  const boundaryArn = `arn:aws:iam::${account}:policy/${permissionsBoundaryName(prefix)}`;
  const deployerBoundaryArn = `arn:aws:iam::${account}:policy/${deployerBoundaryName(prefix)}`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'PlatformServicesInItsRegions',
        Effect: 'Allow',
        Action: servicesUsed(input.templates).map((s) => `${s}:*`),
        Resource: '*',
        Condition: inRegions(input.allowedRegions),
      },
      {
        Sid: 'PlatformRolesAndPolicies',
        Effect: 'Allow',
        Action: 'iam:*',
        Resource: [iamArn('role'), iamArn('policy')],
      },
      {
        // The templates' BootstrapVersion parameter, read from SSM by CloudFormation.
        Sid: 'ReadBootstrapVersion',
        Effect: 'Allow',
        Action: 'ssm:GetParameters',
        Resource: input.allowedRegions.map((r) => `arn:aws:ssm:${r}:${account}:parameter/cdk-bootstrap/*`),
      },
      {
        // A platform role takes the stacks' own policies, and the AWS-managed ones they name: not
        // AdministratorAccess or any other.
        Sid: 'NoOtherManagedPolicies',
        Effect: 'Deny',
        Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
        Resource: iamArn('role'),
        Condition: {
          ArnNotLike: {
            'iam:PolicyARN': [iamArn('policy'), ...awsManagedPoliciesAttached(input.templates)],
          },
        },
      },
      ...(enforceBoundary
        ? boundaryKept(
            boundaryArn,
            deployerBoundaryArn,
            input.deployerRoleNames.map((n) => `arn:aws:iam::${account}:role/${n}`),
          )
        : []),
      {
        // The boundary is the account administrators' (made at bootstrap), though its name is the
        // environment's: no deployment makes, changes or deletes it.
        Sid: 'BoundaryIsNotTheDeployments',
        Effect: 'Deny',
        Action: [
          'iam:CreatePolicy',
          'iam:CreatePolicyVersion',
          'iam:DeletePolicy',
          'iam:DeletePolicyVersion',
          'iam:SetDefaultPolicyVersion',
          'iam:TagPolicy',
          'iam:UntagPolicy',
        ],
        Resource: [boundaryArn, deployerBoundaryArn],
      },
    ],
  };
}

/**
 * Services with a single global endpoint (us-east-1), which a region condition would deny outright:
 * identity, the organisation, support and billing. Everything else must be asked of an allowed region.
 */
const GLOBAL_SERVICE_ACTIONS = [
  'account:*',
  'aws-portal:*',
  'billing:*',
  'budgets:*',
  'ce:*',
  'cur:*',
  'health:*',
  'iam:*',
  'organizations:*',
  'pricing:*',
  's3:GetAccountPublicAccessBlock',
  's3:ListAllMyBuckets',
  'sts:*',
  'support:*',
  'trustedadvisor:*',
] as const;

/**
 * The service control policy for the organisation to attach to the environment's account (AWS
 * Organizations' "deny access based on the requested Region" pattern): every request to another
 * region is denied, whoever makes it, but for the global services above. The platform's own
 * policies carry the same region condition (lib/constructs/platform-role.ts); this one holds for
 * every principal of the account, the console included. AWS services acting as themselves are
 * not subject to SCPs (the multi-region trail still sees the other regions).
 */
export function regionDenyServiceControlPolicy(allowedRegions: readonly string[]): PolicyDocument {
  if (allowedRegions.length === 0) throw new BootstrapPolicyError('allowedRegions must name a region');
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DenyOutsideAllowedRegions',
        Effect: 'Deny',
        NotAction: [...GLOBAL_SERVICE_ACTIONS],
        Resource: '*',
        Condition: { StringNotEquals: { 'aws:RequestedRegion': [...allowedRegions] } },
      },
    ],
  };
}
