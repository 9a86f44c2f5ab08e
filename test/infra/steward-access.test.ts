/**
 * The data-steward role can do what erasure needs on the encrypted table, and cannot replace an
 * erasure record (both found on review of the role: a delete needs the table's key through
 * DynamoDB, and an unconditional PutObject over a record left its first version to the bucket's
 * 30-day noncurrent expiry).
 */
import { describe, expect, it } from 'vitest';
import { allows, keyPolicyAllowsAccount, principalOf, Resolver, type TemplateJson } from './iam-evaluator.js';
import { logicalId, pick, synthesizeAll } from './platform-fixture.js';

const all = synthesizeAll({ bundling: false });

describe('data steward (prod)', () => {
  const env = pick(all, 'prod');
  const d = env.deployment;
  const account = { partition: 'aws', region: d.environment.region, account: d.environment.account };
  const inAccount = principalOf(account.account);
  const stacks = [d.data, d.ingest, d.serving, d.audit, d.access];
  const templates = [env.data, env.ingest, env.serving, env.audit, env.access];
  const resolver = new Resolver(
    Object.fromEntries(stacks.map((s, i) => [s.stackName, templates[i]?.toJSON() as TemplateJson])),
    account,
  );
  const steward = d.access.roles.get('data-steward');
  if (!steward) throw new Error('no data-steward role');
  const statements = resolver.roleStatements(d.access.stackName, logicalId(d.access, steward.role));
  const stewardArn = `arn:aws:iam::${account.account}:role/${d.names.prefix}-data-steward`;
  const keyId = logicalId(d.data, d.data.keys.pii);
  const piiKeyArn = resolver.resolveString(d.data.stackName, { 'Fn::GetAtt': [keyId, 'Arn'] });
  const piiKeyPolicy = resolver.statements(
    d.data.stackName,
    env.data.toJSON().Resources[keyId].Properties.KeyPolicy,
  );

  it('can use the online table key through DynamoDB, which DeleteItem on a CMK-encrypted table needs (npm run forget)', () => {
    // DynamoDB decrypts the table key with the caller's own credentials (kms:ViaService dynamodb);
    // without kms:Decrypt a DeleteItem fails with "KMS key access denied" (aws/aws-cdk#19531).
    const allowedToDelete = allows(statements, {
      action: 'dynamodb:DeleteItem',
      resource: `arn:aws:dynamodb:${account.region}:${account.account}:table/${d.names.onlineTable}`,
      context: { 'aws:RequestedRegion': account.region, 'aws:PrincipalArn': stewardArn, ...inAccount },
    });
    expect(allowedToDelete).toBe(true);
    const decrypt = {
      action: 'kms:Decrypt',
      resource: piiKeyArn,
      context: {
        'aws:RequestedRegion': account.region,
        'aws:PrincipalArn': stewardArn,
        ...inAccount,
        'kms:ViaService': `dynamodb.${account.region}.amazonaws.com`,
      },
    };
    expect(keyPolicyAllowsAccount(piiKeyPolicy, decrypt, account)).toBe(true); // the key delegates to IAM
    expect(allows(statements, decrypt)).toBe(true);
  });

  it('cannot replace an erasure record (a PutObject over it leaves the original to the 30-day noncurrent expiry)', () => {
    const recordKey = `arn:aws:s3:::${d.names.offlineBucket}/audit/erasure/2026-11-26/req-1.json`;
    const put = {
      action: 's3:PutObject',
      resource: recordKey,
      context: { 'aws:RequestedRegion': account.region, 'aws:PrincipalArn': stewardArn, ...inAccount },
    };
    // The whole offline bucket's noncurrent versions expire: an overwritten record is gone after it.
    const bucket = Object.values(env.data.findResources('AWS::S3::Bucket')).find(
      (b) => b.Properties.BucketName === d.names.offlineBucket,
    );
    const housekeeping = bucket?.Properties.LifecycleConfiguration.Rules.find(
      (r: { Id: string }) => r.Id === 'housekeeping',
    );
    expect(housekeeping.Prefix).toBeUndefined();
    expect(housekeeping.NoncurrentVersionExpiration.NoncurrentDays).toBe(30);
    // So a record may only be written as a new object (If-None-Match: *), as forget.ts writes it.
    expect(allows(statements, put)).toBe(false);
    expect(allows(statements, { ...put, context: { ...put.context, 's3:if-none-match': '*' } })).toBe(true);
  });
});
