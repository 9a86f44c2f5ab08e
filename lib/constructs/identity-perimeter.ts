import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * The identity perimeter of a resource policy (AWS's data-perimeter pattern, with this account as
 * the perimeter): a request by a principal of any other account, or by no principal at all, is
 * denied whatever another statement of the policy allows, so that a grant added by mistake cannot
 * open the data to it. AWS services acting as themselves (CloudTrail, S3 server access logging,
 * CloudWatch Logs) are not principals of an account (`aws:PrincipalIsAWSService`), and a service
 * acting for a caller (forward access sessions: Athena reading S3, S3 asking KMS) carries the
 * caller's account.
 */
export function identityPerimeter(
  actions: readonly string[],
  resources: readonly string[],
): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'IdentityPerimeter',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: [...actions],
    resources: [...resources],
    conditions: {
      StringNotEqualsIfExists: { 'aws:PrincipalAccount': Aws.ACCOUNT_ID },
      BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' },
    },
  });
}
