import { RemovalPolicy } from 'aws-cdk-lib';

/** Defaults of {@link TokenizationKeySecret}. */
export const TOKENIZATION_KEY_SECRET_DEFAULTS = {
  /**
   * Characters of the generated value: letters and digits only, all in the base64 alphabet, so the
   * value decodes as base64 to 48 bytes of key (about 381 bits of entropy; the processor needs 32 bytes).
   */
  length: 64,
  removalPolicy: RemovalPolicy.RETAIN,
} as const;
