import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { LookupApi } from './constructs/lookup-api.js';
import { PlatformFunction } from './constructs/platform-function.js';
import { type Environment, removalPolicyOf } from './environments.js';
import { lookupEnvironment, type ResourceNames } from './platform-spec.js';
import { PLATFORM_STACK_DEFAULTS as D } from './platform-stack-defaults.js';

/** The only table actions the lookup function may take: reads. */
export const LOOKUP_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'] as const;

export interface ServingStackProps extends StackProps {
  /** The environment deployed. */
  readonly environment: Environment;
  /** Resource name prefix, e.g. `fp-dev`. */
  readonly prefix: string;
  /** Physical names (`resourceNames(prefix, ...)`). */
  readonly names: ResourceNames;
  /** Online store the lookup reads. */
  readonly onlineTable: dynamodb.ITable;
  /** Key the online store is encrypted with. */
  readonly dataKey: kms.IKey;
}

/** The read path: the lookup function behind an IAM-authorised REST API. */
export class ServingStack extends Stack {
  public readonly lookup: PlatformFunction;
  public readonly api: LookupApi;

  constructor(scope: Construct, id: string, props: ServingStackProps) {
    super(scope, id, props);
    const { environment, names, prefix } = props;
    const removalPolicy = removalPolicyOf(environment);

    this.lookup = new PlatformFunction(this, 'Lookup', {
      handler: 'lookup',
      functionName: names.lookupFunction,
      environment: lookupEnvironment(names),
      ...D.lookup,
      reservedConcurrentExecutions: environment.lookupReservedConcurrency,
      logRetention: environment.logRetentionDays,
      removalPolicy,
    });
    // Read-only by construction: no grantReadData (it would add Scan and DescribeTable too).
    props.onlineTable.grant(this.lookup, ...LOOKUP_TABLE_ACTIONS);
    props.dataKey.grantDecrypt(this.lookup);

    this.api = new LookupApi(this, 'LookupApi', {
      restApiName: `${prefix}-lookup`,
      handler: this.lookup.function,
      accessLogRetention: environment.logRetentionDays,
      removalPolicy,
    });
    new CfnOutput(this, 'LookupApiUrl', {
      description: 'Base URL of the lookup API (append the LOOKUP_ROUTES resource, sign with SigV4)',
      value: this.api.api.url,
    });
  }
}
