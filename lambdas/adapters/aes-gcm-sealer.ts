/**
 * Envelope encryption of raw payloads under the PII key: AES-256-GCM with a data key from KMS
 * GenerateDataKey, reused for a while per container (one KMS call per hour, not per record) and
 * stored encrypted next to each payload. Locally, a fixed key named `local`.
 *
 * Data keys are made with a fixed encryption context (SEAL_ENCRYPTION_CONTEXT, recorded in each
 * sealed payload), which the PII key's policy requires of every direct use: the processor may
 * generate data keys only for sealing, and a data steward may decrypt directly only sealing keys
 * (or keys made before contexts, with none), never the ciphertext of an AWS service (an S3 object's,
 * a table's, a secret's), which always carries a context of its own.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { SEAL_ENCRYPTION_CONTEXT } from '../../lib/platform-spec.js';
import type { PayloadSealer, SealedPayload } from '../core/ports.js';

interface DataKey {
  readonly plaintext: Uint8Array;
  readonly encrypted: string;
  readonly created: number;
}

export interface DataKeySource {
  current(): Promise<DataKey>;
  /** `context`: the encryption context the key was made with (none before 2026-11-27). */
  decrypt(encryptedKey: string, context?: Readonly<Record<string, string>>): Promise<Uint8Array>;
}

/** KMS data keys under `keyId` (the PII key), rotated every `maxAgeMs`. */
export function kmsDataKeys(props: {
  kms: KMSClient;
  keyId: string;
  maxAgeMs?: number;
  now?: () => number;
}): DataKeySource {
  let key: Promise<DataKey> | undefined;
  const now = props.now ?? Date.now;
  const fresh = async (): Promise<DataKey> => {
    const out = await props.kms.send(
      new GenerateDataKeyCommand({
        KeyId: props.keyId,
        KeySpec: 'AES_256',
        EncryptionContext: { ...SEAL_ENCRYPTION_CONTEXT },
      }),
    );
    if (!out.Plaintext || !out.CiphertextBlob) throw new Error(`KMS returned no data key for ${props.keyId}`);
    return {
      plaintext: out.Plaintext,
      encrypted: Buffer.from(out.CiphertextBlob).toString('base64'),
      created: now(),
    };
  };
  return {
    async current() {
      const k = key ? await key.catch(() => undefined) : undefined;
      if (!k || now() - k.created > (props.maxAgeMs ?? 3_600_000)) key = fresh();
      return key as Promise<DataKey>;
    },
    async decrypt(encryptedKey, context) {
      const out = await props.kms.send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(encryptedKey, 'base64'),
          ...(context ? { EncryptionContext: { ...context } } : {}),
        }),
      );
      if (!out.Plaintext) throw new Error('KMS returned no plaintext key');
      return out.Plaintext;
    },
  };
}

const LOCAL_KEY = 'local';

/** A fixed local key (32 bytes), for `npm start` and tests. */
export function localDataKey(key: Uint8Array): DataKeySource {
  if (key.length !== 32) throw new RangeError('a local sealing key must be 32 bytes');
  return {
    current: async () => ({ plaintext: key, encrypted: LOCAL_KEY, created: 0 }),
    decrypt: async (encryptedKey) => {
      if (encryptedKey !== LOCAL_KEY)
        throw new Error('this payload was sealed with a KMS data key, not the local key');
      return key;
    },
  };
}

export class AesGcmSealer implements PayloadSealer {
  constructor(private readonly keys: DataKeySource) {}

  async seal(plaintext: Uint8Array): Promise<SealedPayload> {
    const key = await this.keys.current();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.plaintext, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      alg: 'AES-256-GCM',
      encryptedKey: key.encrypted,
      ...(key.encrypted === LOCAL_KEY ? {} : { context: SEAL_ENCRYPTION_CONTEXT }),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
  }

  async unseal(sealed: SealedPayload): Promise<Uint8Array> {
    const key = await this.keys.decrypt(sealed.encryptedKey, sealed.context);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]);
  }
}
