import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app-builder.js';
import { selectEnvironments } from '../../lib/environments.js';
import { cdkContext } from './platform-fixture.js';

describe('environment configuration', () => {
  it('selects every environment, in order, when no env is given', () => {
    const selected = selectEnvironments(cdkContext());
    expect(selected.map((e) => e.name)).toEqual(['dev', 'staging', 'prod']);
  });

  it('selects only the environment named by -c env', () => {
    const selected = selectEnvironments({ ...cdkContext(), env: 'prod' });
    expect(selected).toHaveLength(1);
    expect(selected[0]).toMatchObject({
      name: 'prod',
      account: '333333333333',
      shardCount: 4,
      removalPolicy: 'retain',
    });
  });

  it('overrides the selected environment account with -c account', () => {
    const [prod] = selectEnvironments({ ...cdkContext(), env: 'prod', account: '444444444444' });
    expect(prod?.account).toBe('444444444444');
  });

  it('rejects an account override that does not say which environment it is for', () => {
    expect(() => selectEnvironments({ ...cdkContext(), account: '444444444444' })).toThrow(
      /account: .*-c env=/,
    );
  });

  it('rejects an unknown environment name', () => {
    expect(() => selectEnvironments({ ...cdkContext(), env: 'qa' })).toThrow(
      'env: "qa" must be one of dev, staging, prod',
    );
  });

  it('rejects a region outside allowedRegions, naming the field', () => {
    const context = cdkContext();
    context.environments.prod = { ...context.environments.prod, region: 'eu-central-1' };
    expect(() => selectEnvironments(context)).toThrow(
      /environments\.prod\.region: eu-central-1 is not in allowedRegions/,
    );
  });

  it.each([
    ['shardCount', 0, /environments\.staging\.shardCount: Too small/],
    ['shardCount', 501, /environments\.staging\.shardCount: Too big/],
    ['retentionHours', 12, /environments\.staging\.retentionHours: Too small/],
    ['account', '12345', /environments\.staging\.account: must be a 12-digit AWS account id/],
    ['removalPolicy', 'snapshot', /environments\.staging\.removalPolicy: /],
    ['logRetentionDays', 2, /environments\.staging\.logRetentionDays: must be one of 1, 3, 5/],
    ['allowedRegions', [], /environments\.staging\.allowedRegions: /],
    ['lookupReservedConcurrency', undefined, /environments\.staging\.lookupReservedConcurrency: /],
    ['backupRetentionDays', 0, /environments\.staging\.backupRetentionDays: Too small/],
    ['auditRetentionDays', '365', /environments\.staging\.auditRetentionDays: /],
    ['offlineRetentionDays', 30, /environments\.staging\.offlineRetentionDays: Too small/],
    ['offlineRetentionDays', undefined, /environments\.staging\.offlineRetentionDays: /],
    ['entityItemLayout', 5, /environments\.staging\.entityItemLayout: must be 1, 2, 3 or 4/],
    [
      'lookupApiVpcEndpointIds',
      ['vpce-0123456789abcdef0', 'vpc-12345678'],
      /environments\.staging\.lookupApiVpcEndpointIds\.1: must be an interface VPC endpoint id/,
    ],
    ['lookupApiVpcEndpointIds', [], /environments\.staging\.lookupApiVpcEndpointIds: must name at least one/],
    [
      'lookupApiVpcEndpointIds',
      ['vpce-0123456789abcdef0', 'vpce-0123456789abcdef0'],
      /environments\.staging\.lookupApiVpcEndpointIds: must not repeat an endpoint/,
    ],
    ['entityItemLayout', '2', /environments\.staging\.entityItemLayout: must be 1, 2, 3 or 4/],
    [
      'identityCenterPermissionSets',
      { deployer: 'PlatformOps', 'key-admin': 'PlatformOps' },
      /environments\.staging\.identityCenterPermissionSets: must not name one permission set for two roles/,
    ],
    [
      'identityCenterPermissionSets',
      { deployer: 'Platform Ops' },
      /environments\.staging\.identityCenterPermissionSets\.deployer: must be a permission set name/,
    ],
  ])('rejects %s = %j, naming the field', (field, value, message) => {
    const context = cdkContext();
    context.environments.staging = { ...context.environments.staging, [field]: value };
    expect(() => selectEnvironments(context)).toThrow(message);
  });

  it('rejects an account override that is not an account id, naming the field', () => {
    expect(() => selectEnvironments({ ...cdkContext(), env: 'dev', account: 'abc' })).toThrow(
      /environments\.dev\.account: must be a 12-digit/,
    );
  });

  it('refuses a production environment that would delete its data with the stack', () => {
    const context = cdkContext();
    context.environments.prod = { ...context.environments.prod, removalPolicy: 'destroy' };
    expect(() => selectEnvironments(context)).toThrow(
      /environments\.prod\.removalPolicy: prod must retain its data \(deletion protection\); got destroy/,
    );
  });

  it('requires all three environments to be declared', () => {
    const context = cdkContext();
    delete context.environments.staging;
    expect(() => selectEnvironments(context)).toThrow(/environments\.staging: /);
  });

  it('writes entity items in layout 1 unless cdk.json raises an environment to layout 2', () => {
    expect(selectEnvironments(cdkContext()).map((e) => e.entityItemLayout)).toEqual([1, 1, 1]);
    const context = cdkContext();
    context.environments.staging = { ...context.environments.staging, entityItemLayout: 2 };
    expect(selectEnvironments(context).map((e) => e.entityItemLayout)).toEqual([1, 2, 1]);
  });

  it('rejects keys it does not know, so a typo is not silently ignored', () => {
    const context = cdkContext();
    context.environments.dev = { ...context.environments.dev, shardcount: 2 };
    expect(() => selectEnvironments(context)).toThrow(/environments\.dev: Unrecognized key: "shardcount"/);
  });

  it('fails the whole synth when the configuration is bad', () => {
    const context = cdkContext();
    context.environments.prod = { ...context.environments.prod, shardCount: 0 };
    expect(() => buildApp(context)).toThrow(/environments\.prod\.shardCount/);
  });
});
