import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from '../compliance.js';
import {
  API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS,
  LOOKUP_API_DEFAULTS,
  VPC_ENDPOINT_ID,
} from './lookup-api-defaults.js';
import { withDefaults } from './with-defaults.js';

/** A route of the API: HTTP method and resource path. */
export interface ApiRoute {
  readonly method: string;
  readonly resource: string;
}

export interface LookupApiProps {
  /** Name of the REST API. */
  readonly restApiName: string;
  /** Function behind every route (Lambda proxy integration). */
  readonly handler: lambda.Function;
  /**
   * Routes, all IAM-authorised.
   * @default LOOKUP_ROUTES (lib/platform-spec.ts)
   */
  readonly routes?: readonly ApiRoute[];
  /**
   * Stage name.
   * @default 'api'
   */
  readonly stageName?: string;
  /**
   * Steady-state requests per second of the stage.
   * @default 500
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst requests of the stage.
   * @default 1000
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Retention of the access log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: logs.RetentionDays;
  /**
   * What happens to the log groups (and the account's API Gateway logging role).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Interface VPC endpoints (com.amazonaws.<region>.execute-api) to serve the API through. Given, the
   * API is PRIVATE, associated with them, and its resource policy refuses requests that come
   * through any other endpoint; it is unreachable from the internet.
   * @default - a REGIONAL endpoint
   */
  readonly vpcEndpointIds?: readonly string[];
  /**
   * Customer-managed key of the access and execution log groups.
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * The lookup REST API: IAM auth and request validation on every method, access logs and error-level
 * execution logs (no request or response bodies), X-Ray, stage throttling.
 */
export class LookupApi extends Construct {
  public readonly api: apigw.RestApi;
  public readonly accessLogGroup: logs.LogGroup;
  /** The log group API Gateway writes execution errors to, created ahead with retention and key. */
  public readonly executionLogGroup: logs.LogGroup;
  /** Method per `<METHOD> <resource>` route. */
  public readonly methods: ReadonlyMap<string, apigw.Method>;

  constructor(scope: Construct, id: string, props: LookupApiProps) {
    super(scope, id);
    const p = withDefaults(LOOKUP_API_DEFAULTS, props);
    const timeout = p.handler.timeout?.toSeconds() ?? 3;
    if (timeout > API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS) {
      throw new Error(
        `${this.node.path}: handler timeout ${timeout} s exceeds API Gateway's ${API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS} s integration limit`,
      );
    }
    if (p.throttlingBurstLimit < p.throttlingRateLimit) {
      throw new Error(
        `${this.node.path}: throttlingBurstLimit (${p.throttlingBurstLimit}) is below throttlingRateLimit (${p.throttlingRateLimit})`,
      );
    }
    const endpointIds = p.vpcEndpointIds ?? [];
    if (p.vpcEndpointIds !== undefined && endpointIds.length === 0)
      throw new Error(`${this.node.path}: vpcEndpointIds is empty; leave it out for a regional API`);
    for (const id of endpointIds)
      if (!VPC_ENDPOINT_ID.test(id))
        throw new Error(`${this.node.path}: vpcEndpointIds: ${id} is not an interface VPC endpoint id`);
    const isPrivate = endpointIds.length > 0;
    const account = Stack.of(this).account;
    const logProps = {
      retention: p.accessLogRetention,
      encryptionKey: p.logEncryptionKey,
      removalPolicy: p.removalPolicy,
    };
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', logProps);
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: p.restApiName,
      description: 'Feature platform lookup API (IAM-authorised)',
      endpointConfiguration: isPrivate
        ? {
            types: [apigw.EndpointType.PRIVATE],
            vpcEndpoints: endpointIds.map((vpcEndpointId, i) =>
              ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(this, `Endpoint${i}`, {
                vpcEndpointId,
                port: 443,
              }),
            ),
          }
        : { types: [apigw.EndpointType.REGIONAL] },
      // A perimeter of its own: no principal of another account, whatever it is granted elsewhere
      // (IAM auth refuses them today without a resource policy; this keeps it so if one is added).
      // Private, also no request from outside its endpoints; and a private API answers only what
      // its resource policy allows, so it allows this account's principals (whose IAM policies
      // still decide, under IAM auth: the access stack's roles).
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'OnlyThisAccount',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: ['execute-api:Invoke'],
            resources: ['execute-api:/*'],
            conditions: { StringNotEquals: { 'aws:PrincipalAccount': account } },
          }),
          ...(isPrivate
            ? [
                new iam.PolicyStatement({
                  sid: 'OnlyThroughTheEndpoints',
                  effect: iam.Effect.DENY,
                  principals: [new iam.AnyPrincipal()],
                  actions: ['execute-api:Invoke'],
                  resources: ['execute-api:/*'],
                  conditions: { StringNotEquals: { 'aws:SourceVpce': [...endpointIds] } },
                }),
                new iam.PolicyStatement({
                  sid: 'ThisAccountThroughTheEndpoints',
                  effect: iam.Effect.ALLOW,
                  principals: [new iam.AccountPrincipal(account)],
                  actions: ['execute-api:Invoke'],
                  resources: ['execute-api:/*'],
                }),
              ]
            : []),
        ],
      }),
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: p.removalPolicy,
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
      deployOptions: {
        stageName: p.stageName,
        tracingEnabled: true,
        metricsEnabled: true,
        throttlingRateLimit: p.throttlingRateLimit,
        throttlingBurstLimit: p.throttlingBurstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
      },
    });
    this.executionLogGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      ...logProps,
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${p.stageName}`,
    });
    this.api.deploymentStage.node.addDependency(this.executionLogGroup);
    // API Gateway validates a body only against a model; the handler validates bodies against the
    // contracts. Path parameters are required here.
    const validator = this.api.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    // RestApi always adds an `Endpoint` output; the serving stack outputs the URL under a stable name.
    this.api.node.tryRemoveChild('Endpoint');
    const integration = new apigw.LambdaIntegration(p.handler, { proxy: true });
    const methods = new Map<string, apigw.Method>();
    for (const route of p.routes) {
      if (!route.resource.startsWith('/')) {
        throw new Error(`${this.node.path}: route resource "${route.resource}" must start with /`);
      }
      const resource = this.api.root.resourceForPath(route.resource);
      const pathParameters = [...route.resource.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const method = resource.addMethod(route.method, integration, {
        authorizationType: apigw.AuthorizationType.IAM,
        requestValidator: validator,
        requestParameters: Object.fromEntries(pathParameters.map((n) => [`method.request.path.${n}`, true])),
      });
      acknowledge(
        method,
        'AwsSolutions-COG4',
        'Every method requires AWS_IAM (SigV4) authorization: callers are workloads and people holding the ' +
          'declared IAM roles (lib/access-roles.ts), scoped per route by execute-api:Invoke; a Cognito user ' +
          'pool would add a second identity store without adding control.',
      );
      methods.set(`${route.method} ${route.resource}`, method);
    }
    this.methods = methods;
    this.acknowledgeStageFindings(this.api.deploymentStage);
  }

  private acknowledgeStageFindings(stage: apigw.Stage): void {
    acknowledge(
      stage,
      'NIST.800.53.R5-APIGWCacheEnabledAndEncrypted',
      'No stage cache by design: responses are per-caller feature values whose freshness is the product, and a ' +
        'cache shared across IAM callers could serve one role values masked differently for another.',
    );
    acknowledge(
      stage,
      'NIST.800.53.R5-APIGWSSLEnabled',
      'Client certificates authenticate API Gateway to HTTP backends; the only integration is a Lambda proxy ' +
        'invoked inside AWS with IAM, so there is no backend endpoint for a certificate to protect.',
    );
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      acknowledge(
        cloudWatchRole,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        "API Gateway's account-level logging role uses the AWS-maintained service-role policy documented for it; it " +
          'lets the API Gateway service write its own logs to CloudWatch Logs and grants no data access.',
      );
    }
  }
}
