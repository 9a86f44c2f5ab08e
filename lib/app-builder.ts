/**
 * The CDK app's wiring, shared by bin/app.ts and the infra tests: per selected environment a
 * data, an ingest, a serving, an audit and an access stack, named `fp-<env>-<part>`, all checked
 * for residency and by cdk-nag on every synth.
 */
import { App, type AppProps, Fn, type Stack, Tags } from 'aws-cdk-lib';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ManagedPolicy, PermissionsBoundary } from 'aws-cdk-lib/aws-iam';
import { contracts, featureGroups } from '../schemas/index.js';
import { ACCESS_ROLES, accessRoleName, deployerRoles } from './access-roles.js';
import { AccessStack } from './access-stack.js';
import { AuditStack } from './audit-stack.js';
import { deployerBoundaryName, permissionsBoundaryName } from './bootstrap-policy.js';
import { addComplianceChecks } from './compliance.js';
import { LOOKUP_API_DEFAULTS } from './constructs/lookup-api-defaults.js';
import type { PlatformRole } from './constructs/platform-role.js';
import { contractsClassification, featureGroupsClassification } from './data-classification.js';
import { DataStack } from './data-stack.js';
import { type DeploymentNames, deploymentNames } from './deployment-names.js';
import { type Environment, selectEnvironments } from './environments.js';
import { IngestStack } from './ingest-stack.js';
import type { PlatformResources } from './permissions.js';
import { ResidencyChecks } from './residency.js';
import { ServingStack } from './serving-stack.js';

export const PROJECT_TAG = 'feature-platform';

/** The stacks of one environment. */
export interface PlatformDeployment {
  readonly environment: Environment;
  readonly names: DeploymentNames;
  /** What the roles' permissions are written against. */
  readonly resources: PlatformResources;
  readonly data: DataStack;
  readonly ingest: IngestStack;
  readonly serving: ServingStack;
  readonly audit: AuditStack;
  readonly access: AccessStack;
}

function addEnvironment(app: App, environment: Environment, residency: ResidencyChecks): PlatformDeployment {
  const names = deploymentNames(environment);
  const { prefix } = names;
  const { account, region } = environment;
  const common = {
    environment,
    env: { account, region },
    terminationProtection: environment.removalPolicy === 'retain',
  };
  const data = new DataStack(app, `${prefix}-data`, {
    ...common,
    description: `Feature platform ${environment.name}: keys, online and offline stores, backups, audit buckets`,
    names,
    contracts: contracts.values(),
    featureGroups,
    unsealerRoleNames: ACCESS_ROLES.filter((r) => r.kind === 'steward').map((r) => accessRoleName(prefix, r)),
  });
  const resources: PlatformResources = {
    partition: data.partition,
    region,
    account,
    names,
    keys: { pii: data.keys.pii.keyArn, general: data.keys.general.keyArn },
    stores: data.classifications,
    groups: featureGroups,
    piiTokenSecretArn: data.piiTokenSecret.secretArn,
    apiStageArn: `arn:${data.partition}:execute-api:${region}:${account}:${Fn.importValue(names.lookupApiIdExport)}/${LOOKUP_API_DEFAULTS.stageName}`,
  };
  const alarmAction = new SnsAction(data.alarmTopic);
  const ingest = new IngestStack(app, `${prefix}-ingest`, {
    ...common,
    description: `Feature platform ${environment.name}: event stream and processor`,
    resources,
    streamKey: data.keys.forClassification(data.classifications.stream),
    logKey: data.keys.general,
    sideOutputBucket: data.sideOutputBucket,
    alarmAction,
  });
  const serving = new ServingStack(app, `${prefix}-serving`, {
    ...common,
    description: `Feature platform ${environment.name}: lookup API`,
    resources,
    logKey: data.keys.general,
    alarmAction,
  });
  const audit = new AuditStack(app, `${prefix}-audit`, {
    ...common,
    description: `Feature platform ${environment.name}: audit trail (management and data events)`,
    resources,
    encryptionKey: data.keys.general,
  });
  // The trail writes into the data stack's audit bucket, whose policy must exist first.
  audit.addStackDependency(data);
  const access = new AccessStack(app, `${prefix}-access`, {
    ...common,
    description: `Feature platform ${environment.name}: access roles and Athena workgroups`,
    resources,
    roles: ACCESS_ROLES,
  });
  // Consumer roles import the lookup API's id by its export name.
  access.addStackDependency(serving);
  const stacks: Stack[] = [data, ingest, serving, audit, access];
  for (const stack of stacks) {
    // Every role carries the environment's boundary (made at bootstrap: npm run bootstrap-policy).
    PermissionsBoundary.of(stack).apply(
      ManagedPolicy.fromManagedPolicyName(stack, 'PermissionsBoundary', permissionsBoundaryName(prefix)),
    );
    Tags.of(stack).add('project', PROJECT_TAG);
    Tags.of(stack).add('environment', environment.name);
    residency.declare(stack, environment.allowedRegions);
  }
  // The deployers carry a boundary of their own: the CDK bootstrap roles to assume, nothing else.
  const deployerBoundary = ManagedPolicy.fromManagedPolicyName(
    access,
    'DeployerBoundary',
    deployerBoundaryName(prefix),
  );
  for (const declared of deployerRoles())
    PermissionsBoundary.of((access.roles.get(declared.name) as PlatformRole).role).apply(deployerBoundary);
  Tags.of(data).add('data-classification', featureGroupsClassification(featureGroups));
  Tags.of(ingest).add('data-classification', contractsClassification(contracts.values()));
  return { environment, names, resources, data, ingest, serving, audit, access };
}

/**
 * Adds the stacks of the environments the app's context selects (`-c env=...`, default all) and
 * the compliance checks every synth runs.
 */
export function buildPlatform(app: App): PlatformDeployment[] {
  const environments = selectEnvironments({
    environments: app.node.tryGetContext('environments'),
    env: app.node.tryGetContext('env'),
    account: app.node.tryGetContext('account'),
  });
  const residency = new ResidencyChecks();
  const deployments = environments.map((environment) => addEnvironment(app, environment, residency));
  addComplianceChecks(app, residency);
  return deployments;
}

/**
 * A new app with the given context (e.g. cdk.json's, plus `env`) and its platform stacks. The
 * tests pass `{ builtinCloudFormationValidation: false }`: CDK's own template schema check takes
 * most of a synth and asserts nothing of ours; nag and residency run regardless.
 */
export function buildApp(
  context: Record<string, unknown>,
  props: Omit<AppProps, 'context'> = {},
): { app: App; deployments: PlatformDeployment[] } {
  const app = new App({ ...props, context });
  return { app, deployments: buildPlatform(app) };
}
