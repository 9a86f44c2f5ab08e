/**
 * The CDK app's wiring, shared by bin/app.ts and the infra tests: per selected environment a
 * data, an ingest and a serving stack, named `fp-<env>-<part>`.
 */
import { App, Tags } from 'aws-cdk-lib';
import { contracts, featureGroups } from '../schemas/index.js';
import { contractsClassification, featureGroupsClassification } from './data-classification.js';
import { DataStack } from './data-stack.js';
import { type Environment, selectEnvironments } from './environments.js';
import { IngestStack } from './ingest-stack.js';
import { type ResourceNames, resourceNames } from './platform-spec.js';
import { ServingStack } from './serving-stack.js';

export const PROJECT_TAG = 'feature-platform';

/** The stacks of one environment. */
export interface PlatformDeployment {
  readonly environment: Environment;
  readonly names: ResourceNames;
  readonly data: DataStack;
  readonly ingest: IngestStack;
  readonly serving: ServingStack;
}

function addEnvironment(app: App, environment: Environment): PlatformDeployment {
  const prefix = `fp-${environment.name}`;
  const names = resourceNames(prefix, `${environment.account}-${environment.region}`);
  const common = {
    environment,
    prefix,
    names,
    env: { account: environment.account, region: environment.region },
    terminationProtection: environment.removalPolicy === 'retain',
  };
  const data = new DataStack(app, `${prefix}-data`, {
    ...common,
    description: `Feature platform ${environment.name}: data key, online store, offline store`,
    featureGroups,
  });
  const ingest = new IngestStack(app, `${prefix}-ingest`, {
    ...common,
    description: `Feature platform ${environment.name}: event stream and processor`,
    dataKey: data.dataKey,
    onlineTable: data.onlineTable,
    offlineBucket: data.offlineBucket,
    sideOutputBucket: data.sideOutputBucket,
  });
  const serving = new ServingStack(app, `${prefix}-serving`, {
    ...common,
    description: `Feature platform ${environment.name}: lookup API`,
    onlineTable: data.onlineTable,
    dataKey: data.dataKey,
  });
  for (const stack of [data, ingest, serving]) {
    Tags.of(stack).add('project', PROJECT_TAG);
    Tags.of(stack).add('environment', environment.name);
  }
  Tags.of(data).add('data-classification', featureGroupsClassification(featureGroups));
  Tags.of(ingest).add('data-classification', contractsClassification(contracts.values()));
  return { environment, names, data, ingest, serving };
}

/** Adds the stacks of the environments the app's context selects (`-c env=...`, default all). */
export function buildPlatform(app: App): PlatformDeployment[] {
  const environments = selectEnvironments({
    environments: app.node.tryGetContext('environments'),
    env: app.node.tryGetContext('env'),
    account: app.node.tryGetContext('account'),
  });
  return environments.map((environment) => addEnvironment(app, environment));
}

/** A new app with the given context (e.g. cdk.json's, plus `env`) and its platform stacks. */
export function buildApp(context: Record<string, unknown>): { app: App; deployments: PlatformDeployment[] } {
  const app = new App({ context });
  return { app, deployments: buildPlatform(app) };
}
