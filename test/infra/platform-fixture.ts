/** Builds the real app (lib/app-builder.ts) from cdk.json's context for the infra tests. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, type PlatformDeployment } from '../../lib/app-builder.js';
import type { EnvironmentName } from '../../lib/environments.js';
import { REPO_ROOT } from '../../lib/platform-spec.js';

/** cdk.json's context: the environments and the feature flags, as `cdk synth` sees them. */
export const CDK_CONTEXT: Readonly<Record<string, unknown>> = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;

/** A deep copy of cdk.json's context, for tests that break one value. */
export const cdkContext = (): Record<string, unknown> & {
  environments: Record<string, Record<string, unknown>>;
} => structuredClone(CDK_CONTEXT) as ReturnType<typeof cdkContext>;

export interface SynthesizedEnvironment {
  readonly deployment: PlatformDeployment;
  readonly data: Template;
  readonly ingest: Template;
  readonly serving: Template;
}

/** Every environment's templates from one app (bundling each handler once per test file). */
export function synthesizeAll(): ReadonlyMap<EnvironmentName, SynthesizedEnvironment> {
  const { deployments } = buildApp(cdkContext());
  return new Map(
    deployments.map((d) => [
      d.environment.name,
      {
        deployment: d,
        data: Template.fromStack(d.data),
        ingest: Template.fromStack(d.ingest),
        serving: Template.fromStack(d.serving),
      },
    ]),
  );
}

/** The one synthesized environment of that name. */
export function pick(all: ReadonlyMap<EnvironmentName, SynthesizedEnvironment>, name: EnvironmentName) {
  const found = all.get(name);
  if (!found) throw new Error(`environment ${name} was not synthesized`);
  return found;
}
