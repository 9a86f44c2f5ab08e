/**
 * Kinesis sequence numbers are decimal strings of up to 129 digits: never a JavaScript number
 * (it would round) and never a DynamoDB Number (38 digits at most). They are compared as strings
 * of equal width.
 */
export const SEQUENCE_WIDTH = 129;

/** Zero-padded to a fixed width, so string order is numeric order (safe to store and compare). */
export function padSequence(sequenceNumber: string): string {
  if (!/^\d{1,129}$/.test(sequenceNumber))
    throw new RangeError(`not a Kinesis sequence number: "${sequenceNumber}"`);
  return sequenceNumber.padStart(SEQUENCE_WIDTH, '0');
}

/** Numeric comparison of two sequence numbers: negative, zero or positive. */
export function compareSequence(a: string, b: string): number {
  const pa = padSequence(a);
  const pb = padSequence(b);
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}
