/** Errors of the store adapters: each names the store and the item, and keeps the SDK error as `cause`. */
export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  constructor(
    message: string,
    readonly store: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class OnlineStoreError extends StoreError {
  override readonly name = 'OnlineStoreError';
}
export class LedgerError extends StoreError {
  override readonly name = 'LedgerError';
}
export class OfflineStoreError extends StoreError {
  override readonly name = 'OfflineStoreError';
}
export class SideOutputError extends StoreError {
  override readonly name = 'SideOutputError';
}

/** DynamoDB's "the condition did not hold": for a guarded write it means "already applied / older". */
export const isConditionalCheckFailed = (error: unknown): boolean =>
  (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';

export const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
