import type { RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS, LOOKUP_API_DEFAULTS } from './lookup-api-defaults.js';
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
   * What happens to the access log group (and the account's API Gateway logging role).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The lookup REST API: IAM auth on every method, access logs, X-Ray, stage throttling. */
export class LookupApi extends Construct {
  public readonly api: apigw.RestApi;
  public readonly accessLogGroup: logs.LogGroup;
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
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: p.accessLogRetention,
      removalPolicy: p.removalPolicy,
    });
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: p.restApiName,
      description: 'Feature platform lookup API (IAM-authorised)',
      endpointTypes: [apigw.EndpointType.REGIONAL],
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
      },
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
      const method = resource.addMethod(route.method, integration, {
        authorizationType: apigw.AuthorizationType.IAM,
      });
      methods.set(`${route.method} ${route.resource}`, method);
    }
    this.methods = methods;
  }
}
