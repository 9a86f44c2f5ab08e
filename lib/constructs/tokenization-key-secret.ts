import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from '../compliance.js';
import { TOKENIZATION_KEY_SECRET_DEFAULTS } from './tokenization-key-secret-defaults.js';
import { withDefaults } from './with-defaults.js';

export interface TokenizationKeySecretProps {
  /** Physical secret name. */
  readonly secretName: string;
  /** Customer-managed key the secret is encrypted with (the PII key; its policy must allow Secrets Manager). */
  readonly encryptionKey: kms.IKey;
  /**
   * Characters of the generated value (letters and digits, read as base64); at least 44 (32 bytes).
   * @default 64
   */
  readonly length?: number;
  /**
   * What happens to the secret when it leaves the stack (deleted secrets wait out Secrets Manager's recovery window).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The only principals (IAM role ARNs) that may read the key: the secret's resource policy denies
   * `GetSecretValue` to everyone else, whatever their identity policies allow (an account
   * administrator included). Whoever holds the key can reverse the tokens of guessable values.
   */
  readonly readerRoleArns: readonly string[];
}

/** Base64 characters per 32 bytes of key: the processor refuses a shorter key. */
const MIN_LENGTH = 44;

/**
 * The PII tokenization key: a Secrets Manager secret whose SecretString Secrets Manager generates
 * once (letters and digits, valid base64) and the processor reads as base64 (lambdas/adapters/
 * hmac-tokenizer.ts). An L1 secret on purpose: the L2 `Secret` adds its own statements
 * (`kms:ReEncrypt*`, `kms:GenerateDataKey*`, `kms:CreateGrant`) to the key's policy, which
 * lib/constructs/data-keys.ts owns (Secrets Manager is one of the PII key's `viaServices`).
 * Not rotated: a new key changes every token (see the acknowledgement).
 */
export class TokenizationKeySecret extends Construct {
  public readonly secret: secretsmanager.CfnSecret;
  /** Denies reading the key to all but `readerRoleArns`. */
  public readonly policy: secretsmanager.CfnResourcePolicy;
  /** The secret's ARN (with Secrets Manager's random suffix). */
  public readonly secretArn: string;

  constructor(scope: Construct, id: string, props: TokenizationKeySecretProps) {
    super(scope, id);
    const p = withDefaults(TOKENIZATION_KEY_SECRET_DEFAULTS, props);
    if (!Number.isInteger(p.length) || p.length < MIN_LENGTH || p.length > 4096) {
      throw new Error(
        `${this.node.path}: length (${p.length}) must be an integer ${MIN_LENGTH}-4096 (base64 of >= 32 bytes)`,
      );
    }
    this.secret = new secretsmanager.CfnSecret(this, 'Secret', {
      name: p.secretName,
      description: `${Stack.of(this).stackName}: PII tokenization (HMAC) key, base64; rotating it changes every token`,
      kmsKeyId: p.encryptionKey.keyArn,
      generateSecretString: {
        passwordLength: p.length,
        excludePunctuation: true,
        includeSpace: false,
        requireEachIncludedType: false,
      },
    });
    this.secret.applyRemovalPolicy(p.removalPolicy);
    this.secretArn = this.secret.ref;
    if (props.readerRoleArns.length === 0)
      throw new Error(`${this.node.path}: readerRoleArns must name at least one role`);
    this.policy = new secretsmanager.CfnResourcePolicy(this, 'Policy', {
      secretId: this.secret.ref,
      blockPublicPolicy: true,
      resourcePolicy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'OnlyTheReadersReadTheKey',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'secretsmanager:GetSecretValue',
            Resource: '*',
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': [...props.readerRoleArns] } },
          },
        ],
      },
    });
    const reason =
      'Not rotated on purpose: the secret is the HMAC key that turns PII into tokens, and tokens are join ' +
      'keys across the online store, the offline history and consumers; a new key would change every token and ' +
      'break joins with all stored data. The key never leaves the processor (GetSecretValue is granted to its ' +
      'role only, and the secret resource policy denies it to every other principal), is encrypted with the PII key, and is replaced only by a planned re-tokenization (new secret, ' +
      'backfill, cut-over), not by scheduled rotation.';
    acknowledge(this.secret, 'AwsSolutions-SMG4', reason);
    acknowledge(this.secret, 'NIST.800.53.R5-SecretsManagerRotationEnabled', reason);
  }
}
