/**
 * PII tokens: `tok_` + the first 192 bits of HMAC-SHA256(key, "<field>:<value>"), base64url. The
 * same value always gives the same token (joins and distinct counts still work); the value
 * cannot be read back. The key comes from a provider, fetched once and kept in memory.
 */
import { createHmac } from 'node:crypto';
import type { Tokenizer } from './ports.js';

export type KeyProvider = () => Promise<Uint8Array>;

export class HmacTokenizer implements Tokenizer {
  #key?: Promise<Uint8Array>;
  constructor(private readonly keyProvider: KeyProvider) {}

  async tokenize(items: readonly { readonly field: string; readonly value: string }[]): Promise<string[]> {
    if (items.length === 0) return [];
    this.#key ??= this.keyProvider().catch((error: unknown) => {
      this.#key = undefined; // a failed fetch is retried on the next batch
      throw error;
    });
    const key = await this.#key;
    // A batch repeats values (a busy customer's e-mail on every one of its records): one MAC each.
    // Kept for this call only, so no raw value outlives the batch in memory.
    const tokens = new Map<string, string>();
    return items.map(({ field, value }) => {
      const input = `${field}:${value}`;
      let token = tokens.get(input);
      if (token === undefined) {
        token = `tok_${createHmac('sha256', key).update(input).digest('base64url').slice(0, 32)}`;
        tokens.set(input, token);
      }
      return token;
    });
  }
}
