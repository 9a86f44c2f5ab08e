import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CfnResource, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { HANDLER_ENTRIES, LOOKUP_ROUTES, lookupEnvironment, REPO_ROOT } from '../../lib/platform-spec.js';
import { pick, synthesizeAll } from './platform-fixture.js';
import { allowedActionsOn } from './policy-statements.js';

const all = synthesizeAll();
const logicalId = (stack: Stack, construct: IConstruct) =>
  stack.getLogicalId(construct.node.defaultChild as CfnResource);

describe.each(['dev', 'staging', 'prod'] as const)('serving stack (%s)', (name) => {
  const { deployment, serving: template } = pick(all, name);
  const { names, data, serving, environment } = deployment;

  it('requires SigV4 (AWS_IAM) on every API method', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(LOOKUP_ROUTES.length);
    for (const method of methods) expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  it.each(LOOKUP_ROUTES.map((r) => [r.method, r.resource] as const))(
    'serves %s %s through a Lambda proxy integration',
    (method, resource) => {
      const pathParts = resource.split('/').filter(Boolean);
      for (const part of pathParts)
        template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: part });
      template.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: method,
        AuthorizationType: 'AWS_IAM',
        ResourceId: { Ref: Match.stringLikeRegexp(pathParts.map((p) => p.replace(/[{}]/g, '')).join('')) },
        Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
      });
    },
  );

  it('traces, throttles and access-logs the stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'api',
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      MethodSettings: [
        Match.objectLike({ ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() }),
      ],
    });
  });

  it('outputs the API URL', () => {
    template.hasOutput('LookupApiUrl', { Value: Match.anyValue() });
  });

  it('bundles exactly the lookup handler file the local platform imports', () => {
    expect(serving.lookup.entry).toBe(path.join(REPO_ROOT, HANDLER_ENTRIES.lookup));
    expect(existsSync(serving.lookup.entry)).toBe(true);
  });

  it('runs the lookup on Node.js 22, arm64, traced, with the spec environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: `fp-${name}-lookup`,
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Environment: { Variables: Match.objectLike(lookupEnvironment(names)) },
      ReservedConcurrentExecutions: environment.lookupReservedConcurrency ?? Match.absent(),
    });
  });

  it('lets the lookup only read single items, batches and queries from the online table', () => {
    const actions = allowedActionsOn(
      template,
      'LookupFunctionServiceRole',
      logicalId(data, data.onlineTable),
    );
    expect(actions).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query']);
  });

  it('gives the lookup no write action on any table and only decrypt on the key', () => {
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).not.toMatch(/dynamodb:(Put|Update|Delete|BatchWrite|Scan|\*)/);
    expect(allowedActionsOn(template, 'LookupFunctionServiceRole', logicalId(data, data.dataKey))).toEqual([
      'kms:Decrypt',
    ]);
  });
});
