/**
 * Errors of the producer client and the file ingestion. Only programmer and configuration mistakes
 * are thrown; a record that cannot be sent is reported, never thrown (see `SendReport`).
 */
import type { SendReport } from './types.js';

export class ProducerError extends Error {
  override readonly name: string = 'ProducerError';
}

/** Props that cannot work (contradictory, out of range): fails at construction. */
export class ProducerConfigError extends ProducerError {
  override readonly name = 'ProducerConfigError';
}

/**
 * Kinesis refused a whole PutRecords request for a reason retrying cannot fix (unknown stream,
 * access denied, missing region or credentials). `report` says what had been sent before it.
 */
export class ProducerRequestError extends ProducerError {
  override readonly name = 'ProducerRequestError';
  constructor(
    message: string,
    readonly report: SendReport,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/** An input file that cannot be read as a whole: unknown format, unreadable, bad CSV header. */
export class InputFileError extends ProducerError {
  override readonly name = 'InputFileError';
}

/** A command line that cannot run: missing or contradictory options, no local endpoints file. */
export class UsageError extends ProducerError {
  override readonly name = 'UsageError';
}
