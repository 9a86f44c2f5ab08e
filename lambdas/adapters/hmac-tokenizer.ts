/**
 * Where the PII tokenization key comes from: a Secrets Manager secret in AWS, a local key for
 * `npm start`. Fetched once per container and kept in memory; it never leaves the function.
 */
import {
  GetSecretValueCommand,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import type { KeyProvider } from '../core/tokens.js';
import { TokenKeyError } from './errors.js';

/** At least 256 bits of key, as base64. */
export function keyFromBase64(base64: string, where: string): Uint8Array {
  const key = Buffer.from(base64, 'base64');
  if (key.length < 32)
    throw new TokenKeyError(`${where}: the tokenization key must be at least 32 bytes`, 'tokenizer');
  return key;
}

/** The key in a Secrets Manager secret (SecretString: base64 of at least 32 random bytes). */
export function secretsManagerKey(props: {
  secretId: string;
  client?: SecretsManagerClient;
  clientConfig?: SecretsManagerClientConfig;
}): KeyProvider {
  return async () => {
    const client = props.client ?? new SecretsManagerClient(props.clientConfig ?? {});
    const out = await client.send(new GetSecretValueCommand({ SecretId: props.secretId }));
    if (!out.SecretString)
      throw new TokenKeyError(`secret ${props.secretId} has no SecretString`, 'tokenizer');
    return keyFromBase64(out.SecretString.trim(), `secret ${props.secretId}`);
  };
}
