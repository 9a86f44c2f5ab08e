/** What the producer reports back: every input index ends in exactly one of sent, rejected or unsent. */

/** A record as Kinesis takes it, already encoded. */
export interface RawRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** An input the producer refused before sending (invalid event, oversized record): never sent. */
export interface Rejected {
  /** Position in the input array. */
  readonly index: number;
  /** All reasons, joined with "; ". */
  readonly reason: string;
  readonly reasons: readonly string[];
}

/** A valid input that Kinesis did not take within the attempt budget; safe to send again (same event id). */
export interface Unsent {
  readonly index: number;
  /** The per-record `ErrorCode`, the whole-request error's name, or `PrecedingRecordUnsent`. */
  readonly errorCode: string;
  readonly errorMessage?: string;
}

export interface SendReport {
  /** How many records Kinesis acknowledged. */
  readonly sent: number;
  /** In input order. */
  readonly rejected: readonly Rejected[];
  /** In input order. */
  readonly unsent: readonly Unsent[];
}

export interface SendProgress {
  readonly total: number;
  readonly sent: number;
  readonly rejected: number;
  readonly unsent: number;
}

export interface SendOptions {
  /** Called after validation and after every PutRecords round. */
  readonly onProgress?: (progress: SendProgress) => void;
}
