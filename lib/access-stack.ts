import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { accessRolePermissions } from './access-permissions.js';
import { type AccessRole, accessRoleName, validateAccessRoles } from './access-roles.js';
import { PlatformRole } from './constructs/platform-role.js';
import { workgroupName } from './deployment-names.js';
import { type Environment, removalPolicyOf } from './environments.js';
import { arns, type PlatformResources } from './permissions.js';
import { PLATFORM_STACK_DEFAULTS as D } from './platform-stack-defaults.js';

export interface AccessStackProps extends StackProps {
  /** The environment deployed. */
  readonly environment: Environment;
  /** Names, keys, API and groups the roles' permissions are written against. */
  readonly resources: PlatformResources;
  /** The declared roles (lib/access-roles.ts). */
  readonly roles: readonly AccessRole[];
}

/** Roles that deploy, administer keys or stores, or read and rewrite stored data: assumed with MFA only. */
const PRIVILEGED: readonly AccessRole['kind'][] = ['deployer', 'key-admin', 'admin', 'steward'];
const privileged = (role: AccessRole): boolean => PRIVILEGED.includes(role.kind);

/**
 * Role-based access as IAM: one role per declaration, assumable by principals of the account
 * that are allowed to assume it, holding exactly the declared permissions; an Athena workgroup per
 * data scientist role, with results under its own prefix encrypted with the key of its clearance.
 */
export class AccessStack extends Stack {
  /** Role per declared role name. */
  public readonly roles: ReadonlyMap<string, PlatformRole>;
  /** Athena workgroup per data scientist role name. */
  public readonly workgroups: ReadonlyMap<string, athena.CfnWorkGroup>;

  constructor(scope: Construct, id: string, props: AccessStackProps) {
    super(scope, id, props);
    const { environment, resources } = props;
    const { names } = resources;
    try {
      validateAccessRoles(props.roles, resources.groups);
    } catch (error) {
      throw new Error(`${this.node.path}: ${(error as Error).message}`);
    }
    const permissionSets = environment.identityCenterPermissionSets ?? {};
    for (const name of Object.keys(permissionSets)) {
      const role = props.roles.find((r) => r.name === name);
      if (!role || !privileged(role))
        throw new Error(
          `${this.node.path}: identityCenterPermissionSets.${name} names no privileged role ` +
            `(${props.roles
              .filter(privileged)
              .map((r) => r.name)
              .join(', ')})`,
        );
    }
    /** The account's IAM Identity Center sessions of a permission set (`*`: any), as a principal. */
    const identityCenterSession = (permissionSet: string) =>
      new iam.AccountPrincipal(this.account).withConditions({
        ArnLike: {
          // With the Identity Center home region in the path, or without it (us-east-1).
          'aws:PrincipalArn': `arn:${this.partition}:iam::${this.account}:role/aws-reserved/sso.amazonaws.com/${
            permissionSet === '*' ? '*' : `*AWSReservedSSO_${permissionSet}_*`
          }`,
        },
      });
    const roles = new Map<string, PlatformRole>();
    const workgroups = new Map<string, athena.CfnWorkGroup>();
    for (const declared of props.roles) {
      const permissionSet = permissionSets[declared.name];
      const role = new PlatformRole(this, `Role-${declared.name}`, {
        roleName: accessRoleName(names.prefix, declared),
        description: declared.description,
        // The privileged roles deploy, administer keys or stores, or read and rewrite stored data: a
        // principal of the account must have signed in with MFA (`Bool`, not `BoolIfExists`:
        // long-term access keys carry no such key at all), or be an IAM Identity Center session,
        // whose identity provider enforces MFA (second trust statement below); with a permission set
        // named for the role, only a session of that permission set.
        assumedBy: !privileged(declared)
          ? new iam.AccountPrincipal(this.account)
          : permissionSet
            ? identityCenterSession(permissionSet)
            : new iam.AccountPrincipal(this.account).withConditions({
                Bool: { 'aws:MultiFactorAuthPresent': 'true' },
              }),
        permissions: accessRolePermissions(declared, resources),
        allowedRegions: environment.allowedRegions,
      });
      if (privileged(declared) && !permissionSet)
        role.role.assumeRolePolicy?.addStatements(
          new iam.PolicyStatement({
            sid: 'IdentityCenterSessions',
            actions: ['sts:AssumeRole'],
            principals: [identityCenterSession('*')],
          }),
        );
      roles.set(declared.name, role);
      new CfnOutput(this, `RoleArn-${declared.name}`, {
        description: `${declared.kind} role: ${declared.description}`,
        value: role.role.roleArn,
      });
      if (declared.kind !== 'data-scientist') continue;
      const name = workgroupName(names.prefix, declared.name);
      workgroups.set(
        declared.name,
        new athena.CfnWorkGroup(this, `Workgroup-${declared.name}`, {
          name,
          description: `Athena workgroup of ${accessRoleName(names.prefix, declared)}`,
          recursiveDeleteOption: removalPolicyOf(environment) === RemovalPolicy.DESTROY,
          workGroupConfiguration: {
            enforceWorkGroupConfiguration: true,
            publishCloudWatchMetricsEnabled: true,
            bytesScannedCutoffPerQuery: D.athenaBytesScannedCutoffPerQuery,
            resultConfiguration: {
              outputLocation: `s3://${names.queryResultsBucket}/${name}/`,
              expectedBucketOwner: this.account,
              encryptionConfiguration: {
                encryptionOption: 'SSE_KMS',
                kmsKey: arns(resources).key(declared.clearance),
              },
            },
          },
        }),
      );
    }
    this.roles = roles;
    this.workgroups = workgroups;
  }
}
