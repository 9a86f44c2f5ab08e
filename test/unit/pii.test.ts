import { describe, expect, it } from 'vitest';
import { AesGcmSealer, localDataKey } from '../../lambdas/adapters/aes-gcm-sealer.js';
import { keyFromBase64 } from '../../lambdas/adapters/hmac-tokenizer.js';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import { processBatch } from '../../lambdas/core/process-batch.js';
import { HmacTokenizer } from '../../lambdas/core/tokens.js';
import { processorConfigSchema, readConfig } from '../../lambdas/shared/config.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { envelope, inputRecords, transaction } from '../support/records.js';

const key = new Uint8Array(32).fill(7);

describe('PII protection', () => {
  it('tokenizes a value the same way every time, per field, without revealing it', async () => {
    const tokenizer = new HmacTokenizer(async () => key);
    const [a, b, c] = await tokenizer.tokenize([
      { field: 'customerEmail', value: 'a@example.ae' },
      { field: 'customerEmail', value: 'a@example.ae' },
      { field: 'otherField', value: 'a@example.ae' },
    ]);
    expect(a).toMatch(/^tok_[A-Za-z0-9_-]{32}$/);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(a).not.toContain('example');
  });

  it('gives different tokens under different keys', async () => {
    const one = await new HmacTokenizer(async () => key).tokenize([{ field: 'f', value: 'v' }]);
    const two = await new HmacTokenizer(async () => new Uint8Array(32).fill(8)).tokenize([
      { field: 'f', value: 'v' },
    ]);
    expect(one).not.toEqual(two);
  });

  it('stores PII fields as tokens in the online state, the feature history and the raw events', async () => {
    const entities = new InMemoryEntityStore();
    const offline = new InMemoryOfflineSink();
    const tokenizer = new HmacTokenizer(async () => key);
    const e = transaction({ customerEmail: 'secret@example.ae' });
    await processBatch(inputRecords([envelope(e)]), {
      contracts,
      groupsFedBy,
      entities,
      offline,
      sideOutput: new InMemorySideOutput(),
      tokenizer,
    });
    const [token] = await tokenizer.tokenize([{ field: 'customerEmail', value: 'secret@example.ae' }]);
    expect(entities.state('customer', 'cus_0001')?.latest?.values.email).toBe(token);
    expect(offline.rows('customer')[0]?.values.email).toBe(token);
    expect(offline.events('transaction')[0]?.customer_email).toBe(token);
    expect(JSON.stringify([...entities.items.values(), ...offline.objects.values()])).not.toContain(
      'secret@example.ae',
    );
  });

  it('seals a payload so only the key holder reads it back, and detects tampering', async () => {
    const sealer = new AesGcmSealer(localDataKey(key));
    const sealed = await sealer.seal(new TextEncoder().encode('{"customerEmail":"x@y.ae"}'));
    expect(JSON.stringify(sealed)).not.toContain('x@y.ae');
    expect(new TextDecoder().decode(await sealer.unseal(sealed))).toBe('{"customerEmail":"x@y.ae"}');
    const tampered = { ...sealed, ciphertext: Buffer.from('tampered!').toString('base64') };
    await expect(sealer.unseal(tampered)).rejects.toThrow();
  });

  it('refuses a short tokenization key and a configuration with no PII keys, naming the variable', () => {
    expect(() => keyFromBase64(Buffer.alloc(16).toString('base64'), 'PII_TOKEN_KEY')).toThrow(
      'PII_TOKEN_KEY: the tokenization key must be at least 32 bytes',
    );
    expect(() =>
      readConfig(processorConfigSchema, { ONLINE_TABLE: 't', OFFLINE_BUCKET: 'o', SIDE_OUTPUT_BUCKET: 's' }),
    ).toThrow(/PII_TOKEN_SECRET_ARN exactly one of PII_TOKEN_SECRET_ARN and PII_TOKEN_KEY is required/);
  });
});
