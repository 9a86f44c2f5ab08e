/** Defaults of {@link TableBackup}. */
export const TABLE_BACKUP_DEFAULTS = {
  /** Hour (UTC) of the daily recovery point: after the region's evening peak. */
  dailyAtHourUtc: 3,
} as const;
