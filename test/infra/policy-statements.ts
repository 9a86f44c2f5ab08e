/** Reads IAM policy statements out of a template, for assertions on what a role may do. */
import type { Template } from 'aws-cdk-lib/assertions';

export interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

export const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Identity policies (inline or customer-managed) of a template with the roles they attach to. */
export function identityPolicies(template: Template): { roles: string; statements: Statement[] }[] {
  const policies = [
    ...Object.values(template.findResources('AWS::IAM::Policy')),
    ...Object.values(template.findResources('AWS::IAM::ManagedPolicy')),
  ];
  return policies.map((p) => ({
    roles: JSON.stringify(p.Properties.Roles ?? []),
    statements: p.Properties.PolicyDocument.Statement as Statement[],
  }));
}

/**
 * Actions allowed on a resource by the policies attached to roles whose logical id starts with
 * `rolePrefix`. A resource is recognised by `resourceMarker` (a name or a logical id) appearing
 * in the statement's (possibly imported) resource.
 */
export function allowedActionsOn(template: Template, rolePrefix: string, resourceMarker: string): string[] {
  const actions = new Set<string>();
  for (const policy of identityPolicies(template)) {
    if (!policy.roles.includes(`"${rolePrefix}`)) continue;
    for (const statement of policy.statements) {
      if (statement.Effect !== 'Allow') continue;
      const touches = asArray(statement.Resource).some((r) => JSON.stringify(r).includes(resourceMarker));
      if (touches) for (const action of asArray(statement.Action)) actions.add(action);
    }
  }
  return [...actions].sort();
}
