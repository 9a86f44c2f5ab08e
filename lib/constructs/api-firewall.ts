import { ArnFormat, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { API_FIREWALL_DEFAULTS, WAF_RATE_LIMIT_BOUNDS } from './api-firewall-defaults.js';
import { withDefaults } from './with-defaults.js';

export interface ApiFirewallProps {
  /** Web ACL name; its log group is `aws-waf-logs-<name>`. */
  readonly name: string;
  /** The API stage the web ACL protects. */
  readonly stage: apigw.Stage;
  /**
   * Requests one source address may send in five minutes before it is blocked.
   * @default 300_000
   */
  readonly requestsPerIpPerFiveMinutes?: number;
  /**
   * Retention of the WAF log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Customer-managed key of the WAF log group.
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

const visibility = (metricName: string) => ({
  metricName,
  cloudWatchMetricsEnabled: true,
  sampledRequestsEnabled: true,
});

const managed = (
  priority: number,
  name: string,
  overrides?: wafv2.CfnWebACL.RuleActionOverrideProperty[],
) => ({
  name,
  priority,
  overrideAction: { none: {} },
  statement: { managedRuleGroupStatement: { vendorName: 'AWS', name, ruleActionOverrides: overrides } },
  visibilityConfig: visibility(name),
});

/**
 * A regional WAF web ACL on the API stage: a per-address rate limit and AWS's IP reputation,
 * known-bad-input and common rule sets, with logs whose SigV4 credentials are redacted.
 */
export class ApiFirewall extends Construct {
  public readonly webAcl: wafv2.CfnWebACL;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    const p = withDefaults(API_FIREWALL_DEFAULTS, props);
    const { min, max } = WAF_RATE_LIMIT_BOUNDS;
    if (p.requestsPerIpPerFiveMinutes < min || p.requestsPerIpPerFiveMinutes > max) {
      throw new Error(
        `${this.node.path}: requestsPerIpPerFiveMinutes (${p.requestsPerIpPerFiveMinutes}) must be between ${min} and ${max}`,
      );
    }
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: p.name,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(p.name),
      rules: [
        {
          name: 'RateLimitPerAddress',
          priority: 0,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: p.requestsPerIpPerFiveMinutes,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
            },
          },
          visibilityConfig: visibility('RateLimitPerAddress'),
        },
        managed(1, 'AWSManagedRulesAmazonIpReputationList'),
        managed(2, 'AWSManagedRulesKnownBadInputsRuleSet'),
        // Batch lookups (POST /v1/features:get) legitimately exceed the rule set's 8 KB body limit.
        managed(3, 'AWSManagedRulesCommonRuleSet', [
          { name: 'SizeRestrictions_BODY', actionToUse: { count: {} } },
        ]),
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: p.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
    const logGroupName = `aws-waf-logs-${p.name}`;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName,
      retention: p.logRetention,
      encryptionKey: p.logEncryptionKey,
      removalPolicy: p.removalPolicy,
    });
    const logging = new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      // WAF wants the log group's ARN without the `:*` the Arn attribute ends with.
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      // SigV4 credentials: the signature and, for role sessions, the session token.
      redactedFields: [
        { singleHeader: { Name: 'authorization' } },
        { singleHeader: { Name: 'x-amz-security-token' } },
      ],
    });
    logging.node.addDependency(this.logGroup);
  }
}
