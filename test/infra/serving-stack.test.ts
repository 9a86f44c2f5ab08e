import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app-builder.js';
import { HANDLER_ENTRIES, LOOKUP_ROUTES, lookupEnvironment, REPO_ROOT } from '../../lib/platform-spec.js';
import { cdkContext, logicalId, pick, synthesizeAll } from './platform-fixture.js';
import { allowedActionsOn, identityPolicies } from './policy-statements.js';

const all = synthesizeAll();

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
        ResourceId: {
          Ref: Match.stringLikeRegexp(pathParts.map((p) => p.replace(/[^A-Za-z0-9]/g, '')).join('')),
        },
        Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
      });
    },
  );

  it('is a public regional API unless the environment names VPC endpoints', () => {
    expect(environment.lookupApiVpcEndpointIds).toBeUndefined();
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
  });

  it('refuses principals of other accounts by the API resource policy', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Policy: {
        Statement: [
          {
            Sid: 'OnlyThisAccount',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'execute-api:Invoke',
            Resource: 'execute-api:/*',
            Condition: { StringNotEquals: { 'aws:PrincipalAccount': deployment.environment.account } },
          },
        ],
      },
    });
  });

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
      ReservedConcurrentExecutions: environment.lookupReservedConcurrency,
    });
  });

  it('lets the lookup only read single items, batches and queries from the online table', () => {
    const actions = allowedActionsOn(template, 'LookupExecutionRole', `table/${names.onlineTable}`);
    expect(actions).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query']);
  });

  it('gives the lookup no write action on any table and only decrypt (through DynamoDB) on the key', () => {
    const policies = JSON.stringify(identityPolicies(template));
    expect(policies).not.toMatch(/dynamodb:(Put|Update|Delete|BatchWrite|Scan|\*)/);
    expect(allowedActionsOn(template, 'LookupExecutionRole', logicalId(data, data.keys.pii))).toEqual([
      'kms:Decrypt',
      'kms:DescribeKey',
    ]);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'DecryptOnlineStore',
            Condition: {
              StringEquals: Match.objectLike({
                'kms:ViaService': [`dynamodb.${environment.region}.amazonaws.com`],
              }),
            },
          }),
        ]),
      },
    });
  });

  it('logs API execution errors without bodies, into a log group created ahead with the general key', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
      ],
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: {
        'Fn::Join': [
          '',
          ['API-Gateway-Execution-Logs_', { Ref: logicalId(serving, serving.api.api) }, '/api'],
        ],
      },
      RetentionInDays: environment.logRetentionDays,
      KmsKeyId: Match.anyValue(),
    });
  });

  it('validates path parameters of every method', () => {
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      RequestParameters: { 'method.request.path.group': true, 'method.request.path.entityId': true },
      RequestValidatorId: Match.anyValue(),
    });
  });

  it('puts a WAF web ACL with a rate limit and AWS managed rules in front of the stage, and logs it redacted', () => {
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: Match.arrayWith([
        Match.objectLike({ Name: 'RateLimitPerAddress', Action: { Block: {} } }),
        Match.objectLike({ Name: 'AWSManagedRulesAmazonIpReputationList' }),
        Match.objectLike({ Name: 'AWSManagedRulesKnownBadInputsRuleSet' }),
        Match.objectLike({ Name: 'AWSManagedRulesCommonRuleSet' }),
      ]),
    });
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
    });
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      LogDestinationConfigs: [
        `arn:aws:logs:${environment.region}:${environment.account}:log-group:aws-waf-logs-fp-${name}-lookup`,
      ],
      RedactedFields: [
        { SingleHeader: { Name: 'authorization' } },
        { SingleHeader: { Name: 'x-amz-security-token' } },
      ],
    });
  });

  it('exports the API id under a fixed name for the access stack', () => {
    template.hasOutput('LookupApiId', { Export: { Name: `fp-${name}-lookup-api-id` } });
  });
});

describe('serving stack with VPC endpoints (prod)', () => {
  const endpoints = ['vpce-0123456789abcdef0', 'vpce-0fedcba9876543210'];
  const context = { ...cdkContext(), env: 'prod', 'aws:cdk:bundling-stacks': [] };
  context.environments.prod = { ...context.environments.prod, lookupApiVpcEndpointIds: endpoints };
  // Synthesized with the nag and residency plugins, as cdk synth does: a finding fails here.
  const [deployment] = buildApp(context, { builtinCloudFormationValidation: false }).deployments;
  const template = Template.fromStack(deployment?.serving as Stack);
  const account = deployment?.environment.account;

  it('serves the API privately, through those endpoints only', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['PRIVATE'], VpcEndpointIds: endpoints },
      Policy: {
        Statement: [
          Match.objectLike({
            Sid: 'OnlyThisAccount',
            Effect: 'Deny',
            Condition: { StringNotEquals: { 'aws:PrincipalAccount': account } },
          }),
          {
            Sid: 'OnlyThroughTheEndpoints',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'execute-api:Invoke',
            Resource: 'execute-api:/*',
            Condition: { StringNotEquals: { 'aws:SourceVpce': endpoints } },
          },
          {
            Sid: 'ThisAccountThroughTheEndpoints',
            Effect: 'Allow',
            Principal: {
              AWS: `arn:aws:iam::${account}:root`,
            },
            Action: 'execute-api:Invoke',
            Resource: 'execute-api:/*',
          },
        ],
      },
    });
  });

  it('keeps IAM auth on every method and the web ACL in front of the stage', () => {
    for (const method of Object.values(template.findResources('AWS::ApiGateway::Method')))
      expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
  });
});
