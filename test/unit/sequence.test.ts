import { describe, expect, it } from 'vitest';
import { compareSequence, padSequence } from '../../lambdas/core/sequence.js';

describe('sequence numbers', () => {
  it.each([
    ['9', '10', -1],
    [
      '49590338271490256608559692538361571095921575989136588898',
      '49590338271490256608559692538361571095921575989136588899',
      -1,
    ],
    ['1'.repeat(129), '1'.repeat(128), 1],
    ['000123', '123', 0],
  ])('compares %s and %s numerically', (a, b, sign) => {
    expect(Math.sign(compareSequence(a, b))).toBe(sign);
  });

  it('pads to a fixed width of 129 digits so string order is numeric order', () => {
    expect(padSequence('42')).toHaveLength(129);
    expect(padSequence('9') < padSequence('10')).toBe(true);
  });

  it('rejects what is not a sequence number', () => {
    expect(() => padSequence('12a')).toThrow(/not a Kinesis sequence number/);
    expect(() => padSequence('1'.repeat(130))).toThrow(RangeError);
  });
});
