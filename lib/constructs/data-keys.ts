import { type Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { Classification } from '../../schemas/index.js';
import { KEY_CLASSES, type KeyClass, keyClassOf } from '../data-classification.js';
import { encryptionContextConditions, KEY_ADMIN_ACTIONS } from '../permissions.js';
import { DATA_KEYS_DEFAULTS } from './data-keys-defaults.js';
import { identityPerimeter } from './identity-perimeter.js';
import { withDefaults } from './with-defaults.js';

/** Cryptographic use of a key by one named role of the account, outside any AWS service. */
export interface DirectKeyUse {
  /** Statement id, PascalCase: what the use is for. */
  readonly sid: string;
  /** The key used. */
  readonly keyClass: KeyClass;
  /** The one role allowed (`aws:PrincipalArn`); it may not exist yet when the key is created. */
  readonly principalArn: string;
  /** Data-key actions only: some of {@link DIRECT_USE_ACTIONS}. */
  readonly actions: readonly string[];
  /**
   * The encryption context every request must carry (`kms:EncryptionContext:<key>`): what the use is
   * for. An AWS service's ciphertexts carry contexts of their own, so a direct use never reaches them.
   */
  readonly encryptionContext: Readonly<Record<string, string>>;
  /**
   * Also requests with no encryption context at all (ciphertexts made before the use had one);
   * never one with another context key (`ForAllValues` over `kms:EncryptionContextKeys`).
   * @default false
   */
  readonly orWithoutContext?: boolean;
}

/** What a {@link DirectKeyUse} may allow: envelope encryption, never key administration or raw Encrypt. */
export const DIRECT_USE_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'] as const;

export interface DataKeysProps {
  /** Alias prefix: the keys are `alias/<prefix>-pii` and `alias/<prefix>-general`. */
  readonly aliasPrefix: string;
  /**
   * AWS services (e.g. `s3`) through which principals of the account may use each key (`kms:ViaService`).
   * @default DATA_KEYS_DEFAULTS.viaServices
   */
  readonly viaServices?: Readonly<Record<KeyClass, readonly string[]>>;
  /**
   * Trails (ARNs) whose log files the general key encrypts.
   * @default []
   */
  readonly trailArns?: readonly string[];
  /**
   * Roles that may use a key directly (not through a service), e.g. the processor sealing raw
   * payloads with data keys: each becomes one statement for exactly that role.
   * @default []
   */
  readonly directUse?: readonly DirectKeyUse[];
  /**
   * What happens to the keys when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Waiting period before a scheduled deletion (7-30 days).
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;
}

/** Cryptographic use, for principals of the account, only through the listed services. */
const USE_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:DescribeKey',
];

/** The conditions of a direct use: the one role, this account, and the use's encryption context. */
function directUseConditions(use: DirectKeyUse, account: string): Record<string, Record<string, unknown>> {
  const context = encryptionContextConditions(use.encryptionContext);
  const base = { ArnEquals: { 'aws:PrincipalArn': use.principalArn } };
  // No context key but the use's (true of a request with none, hence StringEquals on each otherwise).
  const onlyItsKeys = {
    'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': Object.keys(use.encryptionContext) },
  };
  if (!use.orWithoutContext)
    return { ...base, StringEquals: { 'kms:CallerAccount': account, ...context }, ...onlyItsKeys };
  return {
    ...base,
    StringEquals: { 'kms:CallerAccount': account },
    StringEqualsIfExists: context,
    ...onlyItsKeys,
  };
}

/**
 * The two customer-managed keys, with yearly rotation. Their policies trust the account for key
 * administration only (no `kms:*`, no rotation switch-off, no multi-Region replication), allow
 * cryptographic use through the platform's services, direct data-key use only to the named roles
 * of `directUse`, and let CloudWatch Logs, CloudTrail and CloudWatch alarms use the general key
 * for their own resources in this account.
 */
export class DataKeys extends Construct {
  public readonly pii: kms.Key;
  public readonly general: kms.Key;

  constructor(scope: Construct, id: string, props: DataKeysProps) {
    super(scope, id);
    const p = withDefaults(DATA_KEYS_DEFAULTS, props);
    const { account, region } = Stack.of(this);
    for (const keyClass of KEY_CLASSES) {
      if (p.viaServices[keyClass].length === 0) {
        throw new Error(`${this.node.path}: viaServices.${keyClass} must name at least one service`);
      }
    }
    for (const use of p.directUse) {
      if (Object.keys(use.encryptionContext).length === 0)
        throw new Error(
          `${this.node.path}: directUse ${use.sid} must name an encryption context (what the use is for)`,
        );
      const other = use.actions.find((a) => !(DIRECT_USE_ACTIONS as readonly string[]).includes(a));
      if (use.actions.length === 0 || other !== undefined) {
        throw new Error(
          `${this.node.path}: directUse ${use.sid} may allow only ${DIRECT_USE_ACTIONS.join(', ')}` +
            (other ? ` (not ${other})` : ''),
        );
      }
    }
    const root = new iam.AccountRootPrincipal();
    const policyFor = (keyClass: KeyClass) => {
      const viaService = p.viaServices[keyClass].map((s) => `${s}.${region}.amazonaws.com`);
      const statements = [
        new iam.PolicyStatement({
          sid: 'KeyAdministration',
          principals: [root],
          actions: [...KEY_ADMIN_ACTIONS],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          sid: 'UseThroughPlatformServices',
          principals: [root],
          actions: USE_ACTIONS,
          resources: ['*'],
          conditions: { StringEquals: { 'kms:ViaService': viaService, 'kms:CallerAccount': account } },
        }),
        new iam.PolicyStatement({
          sid: 'GrantsForAwsResources',
          principals: [root],
          actions: ['kms:CreateGrant'],
          resources: ['*'],
          conditions: {
            Bool: { 'kms:GrantIsForAWSResource': 'true' },
            StringEquals: { 'kms:ViaService': viaService, 'kms:CallerAccount': account },
          },
        }),
        ...p.directUse
          .filter((use) => use.keyClass === keyClass)
          .map(
            (use) =>
              new iam.PolicyStatement({
                sid: use.sid,
                principals: [root],
                actions: [...use.actions],
                resources: ['*'],
                conditions: directUseConditions(use, account),
              }),
          ),
      ];
      if (keyClass === 'general') statements.push(...this.serviceStatements(p.trailArns));
      // Whatever a statement or a grant allows, no principal of another account uses the key: none
      // can read the data it encrypts, in any table, stream, bucket or secret.
      statements.push(...identityPerimeter(['kms:*'], ['*']));
      return new iam.PolicyDocument({ statements });
    };
    const key = (keyClass: KeyClass, description: string) =>
      new kms.Key(this, keyClass === 'pii' ? 'Pii' : 'General', {
        alias: `alias/${p.aliasPrefix}-${keyClass}`,
        description,
        enableKeyRotation: true,
        pendingWindow: p.pendingWindow,
        removalPolicy: p.removalPolicy,
        policy: policyFor(keyClass),
      });
    this.pii = key(
      'pii',
      `${p.aliasPrefix}: data that may hold PII (stream, online store, offline store, side outputs)`,
    );
    this.general = key('general', `${p.aliasPrefix}: confidential data, logs, audit trail, alarms`);
  }

  /** The key of data of this classification. */
  public forClassification(classification: Classification): kms.IKey {
    return keyClassOf(classification) === 'pii' ? this.pii : this.general;
  }

  /** CloudWatch Logs, CloudTrail, CloudWatch alarms and EventBridge using the general key for this account only. */
  private serviceStatements(trailArns: readonly string[]): iam.PolicyStatement[] {
    const { account, region, partition } = Stack.of(this);
    const statements = [
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsOfThisAccount',
        principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
        actions: [
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:ReEncryptFrom',
          'kms:ReEncryptTo',
          'kms:GenerateDataKey',
          'kms:DescribeKey',
        ],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*`,
          },
        },
      }),
      // The account's alarms and EventBridge rules publishing to the (encrypted) alarm topic.
      new iam.PolicyStatement({
        sid: 'AlarmsAndRulesToEncryptedTopics',
        principals: [
          new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
          new iam.ServicePrincipal('events.amazonaws.com'),
        ],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    ];
    if (trailArns.length > 0) {
      const cloudTrail = new iam.ServicePrincipal('cloudtrail.amazonaws.com');
      const thisTrail = { 'aws:SourceArn': [...trailArns] };
      statements.push(
        new iam.PolicyStatement({
          sid: 'CloudTrailLogFiles',
          principals: [cloudTrail],
          actions: ['kms:GenerateDataKey'],
          resources: ['*'],
          conditions: {
            StringEquals: thisTrail,
            StringLike: {
              'kms:EncryptionContext:aws:cloudtrail:arn': `arn:${partition}:cloudtrail:*:${account}:trail/*`,
            },
          },
        }),
        // DescribeKey carries no encryption context: CloudTrail checks the key when the trail is created.
        new iam.PolicyStatement({
          sid: 'CloudTrailDescribeKey',
          principals: [cloudTrail],
          actions: ['kms:DescribeKey'],
          resources: ['*'],
          conditions: { StringEquals: thisTrail },
        }),
      );
    }
    return statements;
  }
}
