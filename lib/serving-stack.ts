import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { lookupPermissions } from './access-permissions.js';
import { acknowledge } from './compliance.js';
import { ApiFirewall } from './constructs/api-firewall.js';
import { LookupApi } from './constructs/lookup-api.js';
import { PlatformFunction } from './constructs/platform-function.js';
import { type Environment, removalPolicyOf } from './environments.js';
import type { PlatformResources } from './permissions.js';
import { lookupEnvironment } from './platform-spec.js';
import { PLATFORM_STACK_DEFAULTS as D } from './platform-stack-defaults.js';

export { LOOKUP_TABLE_ACTIONS } from './access-permissions.js';

export interface ServingStackProps extends StackProps {
  /** The environment deployed. */
  readonly environment: Environment;
  /** Names, keys and classifications the lookup's permissions are written against. */
  readonly resources: PlatformResources;
  /** Key of the function, API and WAF log groups. */
  readonly logKey: kms.IKey;
  /** Where the lookup's alarms notify. */
  readonly alarmAction: cloudwatch.IAlarmAction;
}

/** The read path: the lookup function behind an IAM-authorised REST API with a web ACL. */
export class ServingStack extends Stack {
  public readonly lookup: PlatformFunction;
  public readonly api: LookupApi;
  public readonly firewall: ApiFirewall;

  constructor(scope: Construct, id: string, props: ServingStackProps) {
    super(scope, id, props);
    const { environment, resources } = props;
    const { names } = resources;
    const removalPolicy = removalPolicyOf(environment);

    this.lookup = new PlatformFunction(this, 'Lookup', {
      handler: 'lookup',
      functionName: names.lookupFunction,
      environment: lookupEnvironment(names),
      ...D.lookup,
      reservedConcurrentExecutions: environment.lookupReservedConcurrency,
      permissions: lookupPermissions(resources),
      allowedRegions: environment.allowedRegions,
      logRetention: environment.logRetentionDays,
      logEncryptionKey: props.logKey,
      alarmAction: props.alarmAction,
      removalPolicy,
    });
    acknowledge(
      this.lookup.function,
      'NIST.800.53.R5-LambdaDLQ',
      'API Gateway invokes the lookup synchronously (Lambda proxy) and returns any error to the caller, who may ' +
        'retry; a DLQ only receives failed asynchronous invocations, which this function never has.',
    );

    this.api = new LookupApi(this, 'LookupApi', {
      restApiName: `${names.prefix}-lookup`,
      handler: this.lookup.function,
      accessLogRetention: environment.logRetentionDays,
      logEncryptionKey: props.logKey,
      removalPolicy,
      ...(environment.lookupApiVpcEndpointIds ? { vpcEndpointIds: environment.lookupApiVpcEndpointIds } : {}),
    });
    this.firewall = new ApiFirewall(this, 'Firewall', {
      name: `${names.prefix}-lookup`,
      stage: this.api.api.deploymentStage,
      logRetention: environment.logRetentionDays,
      logEncryptionKey: props.logKey,
      removalPolicy,
    });
    new CfnOutput(this, 'LookupApiUrl', {
      description: 'Base URL of the lookup API (append the LOOKUP_ROUTES resource, sign with SigV4)',
      value: this.api.api.url,
    });
    new CfnOutput(this, 'LookupApiId', {
      description: 'Id of the lookup API (the access stack scopes execute-api:Invoke by it)',
      value: this.api.api.restApiId,
      exportName: names.lookupApiIdExport,
    });
  }
}
