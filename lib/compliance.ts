/**
 * Compliance checks on every synth: cdk-nag's AwsSolutions and NIST 800-53 rev 5 packs (v3: CDK
 * validation plugins) and the residency check. A finding fails the synth unless acknowledged on
 * the construct with its exact id and a reason; acknowledgements are also written into the
 * templates' metadata (`cdk_nag.rules_to_suppress`) so scanners of the templates see them.
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, type NagPack, NIST80053R5Checks } from 'cdk-nag';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';
import type { ResidencyChecks } from './residency.js';

/** The rule packs every synth runs (pass the app to also write acknowledgements into templates). */
export const nagPacks = (app?: IConstruct): NagPack[] => [
  new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: app !== undefined }),
  new NIST80053R5Checks(app),
];

/** Registers the nag packs and the residency check on the app. */
export function addComplianceChecks(app: App, residency: ResidencyChecks): void {
  Validations.of(app).addPlugins(...nagPacks(app), residency);
}

const FINDING_ID = /^(AwsSolutions|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[.+\])?$/;
const MIN_REASON = 60;

/**
 * Acknowledges one cdk-nag finding on a construct (and its children). The id must be the exact
 * finding id (`RuleId` or `RuleId[Finding]`); the reason must say why it is acceptable.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (!FINDING_ID.test(id)) {
    throw new Error(`${scope.node.path}: "${id}" is not a cdk-nag finding id (RuleId or RuleId[Finding])`);
  }
  if (reason.trim().length < MIN_REASON) {
    throw new Error(
      `${scope.node.path}: the reason for ${id} must explain why it is acceptable (${MIN_REASON}+ characters)`,
    );
  }
  Validations.of(scope).acknowledge({ id, reason });
}

/** The AwsSolutions-IAM5 finding a policy resource with a wildcard produces (cdk-nag's own rendering). */
export const wildcardResourceFinding = (resolvedResource: unknown): string =>
  `AwsSolutions-IAM5[Resource::${flattenCfnReference(resolvedResource)}]`;
