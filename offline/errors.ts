/**
 * Errors of the offline-store domain (training sets, erasure, compaction, backfill). Each names
 * what it was doing; none carries a data value (values may be PII).
 */
export class OfflineError extends Error {
  override readonly name: string = 'OfflineError';
}

/** A training-set request that cannot be answered as asked (unknown feature, missing label column). */
export class TrainingSetRequestError extends OfflineError {
  override readonly name = 'TrainingSetRequestError';
}

/** Offline data that is not in the shape the definitions promise (a column of the wrong type). */
export class OfflineDataError extends OfflineError {
  override readonly name = 'OfflineDataError';
}

/** An object-store call that failed; keeps the SDK error as `cause`. */
export class ObjectStoreError extends OfflineError {
  override readonly name: string = 'ObjectStoreError';
}

/** A put that may only create refused because the key exists (S3: 412 PreconditionFailed). */
export class ObjectExistsError extends ObjectStoreError {
  override readonly name = 'ObjectExistsError';
}

/** An erasure request that is malformed or could not be completed. */
export class ErasureError extends OfflineError {
  override readonly name = 'ErasureError';
}
