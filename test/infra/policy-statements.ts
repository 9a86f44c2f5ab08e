/** Reads IAM policy statements out of a template, for assertions on what a role may do. */
import type { Template } from 'aws-cdk-lib/assertions';

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/**
 * Actions allowed on a resource by the policies attached to roles whose logical id starts with
 * `rolePrefix`. A resource is recognised by its logical id appearing in the (possibly imported) ARN.
 */
export function allowedActionsOn(
  template: Template,
  rolePrefix: string,
  resourceLogicalId: string,
): string[] {
  const actions = new Set<string>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const roles = JSON.stringify(policy.Properties.Roles);
    if (!roles.includes(`"${rolePrefix}`)) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
      if (statement.Effect !== 'Allow') continue;
      const touches = asArray(statement.Resource).some((r) => JSON.stringify(r).includes(resourceLogicalId));
      if (touches) for (const action of asArray(statement.Action)) actions.add(action);
    }
  }
  return [...actions].sort();
}
