import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * The identity perimeter of a resource policy (AWS's data-perimeter pattern, with this account as
 * the perimeter), two denials that hold whatever another statement of the policy allows, so that a
 * grant added by mistake cannot open the data outside the account:
 * - `IdentityPerimeter`: a request by a principal of any other account, or by no principal at all.
 *   AWS services acting as themselves (CloudTrail, S3 server access logging, CloudWatch Logs) are
 *   not principals of an account (`aws:PrincipalIsAWSService`), and a service acting for a caller
 *   (forward access sessions: Athena reading S3, S3 asking KMS) carries the caller's account.
 * - `ServicesForThisAccountOnly`: a service acting as itself for another account's resource (its
 *   `aws:SourceAccount`), the confused deputy a service-principal statement without a source
 *   condition would let in. A service request that names no source account is left to the
 *   statements that allow it (every one of them names its source).
 */
export function identityPerimeter(
  actions: readonly string[],
  resources: readonly string[],
): iam.PolicyStatement[] {
  const deny = (sid: string, conditions: Record<string, Record<string, unknown>>) =>
    new iam.PolicyStatement({
      sid,
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: [...actions],
      resources: [...resources],
      conditions,
    });
  return [
    deny('IdentityPerimeter', {
      StringNotEqualsIfExists: { 'aws:PrincipalAccount': Aws.ACCOUNT_ID },
      BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' },
    }),
    deny('ServicesForThisAccountOnly', {
      Bool: { 'aws:PrincipalIsAWSService': 'true' },
      Null: { 'aws:SourceAccount': 'false' },
      StringNotEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
    }),
  ];
}
