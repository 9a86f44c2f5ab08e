/**
 * The CloudFormation execution policy to bootstrap an environment's account with, instead of the
 * AdministratorAccess a default `cdk bootstrap` gives CloudFormation (so whoever deploys could
 * deploy anything: docs/security-and-compliance.md, the deployer role). Derived from the
 * environment's synthesized templates, so it holds exactly the services they use:
 * - every action of those services, in the environment's allowed regions only (`aws:RequestedRegion`);
 * - IAM roles and customer-managed policies named after the environment's stacks only (`fp-<env>-*`:
 *   CloudFormation names the unnamed ones `<stack>-<id>-<suffix>`), with the AWS-managed policies
 *   the templates attach and no other;
 * - the CDK bootstrap version parameter;
 * - nothing else: no IAM user, no other role, no service the templates do not use.
 * It bounds the services, regions and role names a deployment reaches, not what it grants: a
 * template can still give an `fp-<env>-*` role any permission (a policy of its own, an inline one)
 * or a trust to another account, and reaches every resource of those services in the region. A
 * permissions boundary on every role, and resources scoped by name, would bound that: not done.
 * A template using a resource type of a service not listed in `SERVICES` fails here, naming it, so a
 * new kind of resource is a reviewed change to this policy. Used by `npm run bootstrap-policy`.
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

/** What of a synthesized template the policy is derived from. */
export interface TemplateResources {
  readonly Resources?: Readonly<
    Record<string, { readonly Type: string; readonly Properties?: Readonly<Record<string, unknown>> }>
  >;
}

export interface BootstrapPolicyInput {
  readonly account: string;
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
    readonly Resource: string | readonly string[];
    readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
  } & ({ readonly Action: string | readonly string[] } | { readonly NotAction: readonly string[] }))[];
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
    for (const r of Object.values(template.Resources ?? {})) {
      if (r.Type !== 'AWS::IAM::Role') continue;
      for (const arn of (r.Properties?.ManagedPolicyArns as unknown[] | undefined) ?? []) {
        const text = JSON.stringify(arn);
        const name = /:iam::aws:(policy\/[A-Za-z0-9/_+=,.@-]+)/.exec(text)?.[1];
        if (name) arns.add(`arn:aws:iam::aws:${name}`);
      }
    }
  return [...arns].sort();
}

export function cloudFormationExecutionPolicy(input: BootstrapPolicyInput): PolicyDocument {
  const { account, prefix } = input;
  const iamArn = (kind: string) => `arn:aws:iam::${account}:${kind}/${prefix}-*`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'PlatformServicesInItsRegions',
        Effect: 'Allow',
        Action: servicesUsed(input.templates).map((s) => `${s}:*`),
        Resource: '*',
        Condition: { StringEquals: { 'aws:RequestedRegion': [...input.allowedRegions] } },
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
