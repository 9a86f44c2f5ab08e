/** Errors of the contract registry tooling (JSON Schema export, snapshots). */
export class ContractRegistryError extends Error {
  override readonly name: string = 'ContractRegistryError';
  constructor(
    message: string,
    readonly contract: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A contract version whose JSON Schema is not what the registry accepts (an object closed to extra fields). */
export class SchemaExportError extends ContractRegistryError {
  override readonly name = 'SchemaExportError';
}

/** A snapshot that may not be written: registered versions are immutable. */
export class SnapshotConflictError extends ContractRegistryError {
  override readonly name = 'SnapshotConflictError';
}
