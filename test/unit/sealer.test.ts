/**
 * Raw payloads are sealed with KMS data keys made in the sealing encryption context, which the PII
 * key's policy requires of direct use (test/infra/rbac-matrix.test.ts); a payload sealed before
 * contexts opens without one. KMS has no stand-in: its calls are checked with aws-sdk-client-mock.
 */
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AesGcmSealer, kmsDataKeys, localDataKey } from '../../lambdas/adapters/aes-gcm-sealer.js';
import { SEAL_ENCRYPTION_CONTEXT } from '../../lib/platform-spec.js';

const kms = mockClient(KMSClient);
afterEach(() => kms.reset());

const PLAINTEXT_KEY = new Uint8Array(32).fill(7);
const ENCRYPTED_KEY = new Uint8Array([1, 2, 3]);
const sealer = () =>
  new AesGcmSealer(
    kmsDataKeys({ kms: new KMSClient({ region: 'me-central-1' }), keyId: 'alias/fp-test-pii' }),
  );

describe('sealing raw payloads under the PII key', () => {
  it('makes its data keys in the sealing context, records it, and opens the payload in it', async () => {
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: PLAINTEXT_KEY, CiphertextBlob: ENCRYPTED_KEY });
    kms.on(DecryptCommand).resolves({ Plaintext: PLAINTEXT_KEY });
    const sealed = await sealer().seal(Buffer.from('{"customerEmail":"a@b.example"}'));
    expect(kms.commandCalls(GenerateDataKeyCommand).map((c) => c.args[0].input)).toEqual([
      { KeyId: 'alias/fp-test-pii', KeySpec: 'AES_256', EncryptionContext: { purpose: 'side-output-seal' } },
    ]);
    expect(sealed.context).toEqual(SEAL_ENCRYPTION_CONTEXT);

    const opened = await sealer().unseal(sealed);
    expect(Buffer.from(opened).toString()).toBe('{"customerEmail":"a@b.example"}');
    expect(kms.commandCalls(DecryptCommand).map((c) => c.args[0].input)).toEqual([
      { CiphertextBlob: Buffer.from(ENCRYPTED_KEY), EncryptionContext: { purpose: 'side-output-seal' } },
    ]);
  });

  it('opens a payload sealed before contexts without one (KMS would refuse a context it was not made with)', async () => {
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: PLAINTEXT_KEY, CiphertextBlob: ENCRYPTED_KEY });
    kms.on(DecryptCommand).resolves({ Plaintext: PLAINTEXT_KEY });
    const { context: _, ...legacy } = await sealer().seal(Buffer.from('old'));
    expect(Buffer.from(await sealer().unseal(legacy)).toString()).toBe('old');
    expect(kms.commandCalls(DecryptCommand).map((c) => c.args[0].input)).toEqual([
      { CiphertextBlob: Buffer.from(ENCRYPTED_KEY) },
    ]);
  });

  it('records no context for the local key, which KMS never sees', async () => {
    const local = new AesGcmSealer(localDataKey(PLAINTEXT_KEY));
    const sealed = await local.seal(Buffer.from('x'));
    expect(sealed).not.toHaveProperty('context');
    expect(Buffer.from(await local.unseal(sealed)).toString()).toBe('x');
  });
});
