/** Defaults of {@link OfflineCatalog}. */
export const OFFLINE_CATALOG_DEFAULTS = {
  /** First date partition projection enumerates; the last is NOW. */
  projectionStartDate: '2024-01-01',
} as const;
