/** Builds the real app (lib/app-builder.ts) from cdk.json's context for the infra tests. */
import type { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp, type PlatformDeployment } from '../../lib/app-builder.js';
import type { EnvironmentName } from '../../lib/environments.js';
import { cdkJsonContext } from '../../lib/platform-spec.js';

/** cdk.json's context: the environments and the feature flags, as `cdk synth` sees them. */
export const CDK_CONTEXT: Readonly<Record<string, unknown>> = cdkJsonContext();

/** A deep copy of cdk.json's context, for tests that break one value. */
export const cdkContext = (): Record<string, unknown> & {
  environments: Record<string, Record<string, unknown>>;
} => structuredClone(CDK_CONTEXT) as ReturnType<typeof cdkContext>;

export const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;

/** The stacks of one environment, as templates. */
export interface SynthesizedEnvironment {
  readonly deployment: PlatformDeployment;
  readonly data: Template;
  readonly ingest: Template;
  readonly serving: Template;
  readonly audit: Template;
  readonly access: Template;
}

export interface SynthesizedApp extends ReadonlyMap<EnvironmentName, SynthesizedEnvironment> {
  readonly app: App;
}

/**
 * Every environment's templates from one app (bundling each handler once per test file). The
 * synth runs the nag and residency plugins, so a finding fails the test file that synthesizes.
 * Files that assert nothing about function code pass `{ bundling: false }`: CDK then skips
 * esbuild (`aws:cdk:bundling-stacks`), the templates are otherwise identical, and the file is
 * a second faster.
 */
export function synthesizeAll({ bundling = true } = {}): SynthesizedApp {
  const context = bundling ? cdkContext() : { ...cdkContext(), 'aws:cdk:bundling-stacks': [] };
  const { app, deployments } = buildApp(context, { builtinCloudFormationValidation: false });
  const all = new Map(
    deployments.map((d) => [
      d.environment.name,
      {
        deployment: d,
        data: Template.fromStack(d.data),
        ingest: Template.fromStack(d.ingest),
        serving: Template.fromStack(d.serving),
        audit: Template.fromStack(d.audit),
        access: Template.fromStack(d.access),
      },
    ]),
  );
  return Object.assign(all, { app });
}

/** The one synthesized environment of that name. */
export function pick(all: ReadonlyMap<EnvironmentName, SynthesizedEnvironment>, name: EnvironmentName) {
  const found = all.get(name);
  if (!found) throw new Error(`environment ${name} was not synthesized`);
  return found;
}

/** Logical id of an L2 construct's CloudFormation resource in its stack. */
export const logicalId = (stack: Stack, construct: IConstruct): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnResource);
