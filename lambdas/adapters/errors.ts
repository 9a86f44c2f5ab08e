/** Errors of the store adapters: each names the store and the item, and keeps the SDK error as `cause`. */
export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  /**
   * Every retry of the same request would fail the same way: the item is at fault, not the store
   * (lambdas/core/ports.ts `isPermanent`).
   */
  readonly permanent: boolean;
  constructor(
    message: string,
    readonly store: string,
    options?: { cause?: unknown; permanent?: boolean },
  ) {
    super(message, options);
    this.permanent = options?.permanent ?? false;
  }
}

export class OnlineStoreError extends StoreError {
  override readonly name = 'OnlineStoreError';
}
export class OfflineStoreError extends StoreError {
  override readonly name = 'OfflineStoreError';
}
export class SideOutputError extends StoreError {
  override readonly name = 'SideOutputError';
}

/** The PII tokenization key could not be had, or is too short. */
export class TokenKeyError extends StoreError {
  override readonly name = 'TokenKeyError';
}
/** A schema registry call failed; names the contract and version when there is one. */
export class SchemaRegistryError extends StoreError {
  override readonly name: string = 'SchemaRegistryError';
  constructor(
    message: string,
    readonly contract?: string,
    readonly version?: number,
    options?: { cause?: unknown },
  ) {
    super(message, 'glue-schema-registry', options);
  }
}
/** Glue refused a version (status FAILURE): usually its compatibility check. */
export class SchemaVersionFailedError extends SchemaRegistryError {
  override readonly name = 'SchemaVersionFailedError';
}
/** A version stayed PENDING longer than the wait allows. */
export class SchemaVersionTimeoutError extends SchemaRegistryError {
  override readonly name = 'SchemaVersionTimeoutError';
}
/** The schema exists in Glue with another data format or compatibility mode than the contract declares. */
export class SchemaConflictError extends SchemaRegistryError {
  override readonly name = 'SchemaConflictError';
}

/**
 * DynamoDB refused the request itself (an item past 400 KB, an attribute it cannot store): sending
 * it again gets the same answer.
 */
export const isValidationError = (error: unknown): boolean =>
  (error as { name?: string } | undefined)?.name === 'ValidationException';

/** DynamoDB's "the condition did not hold": for a guarded write it means "already applied / older". */
export const isConditionalCheckFailed = (error: unknown): boolean =>
  (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';

export const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
