/**
 * The point-in-time join in plain JavaScript: sort the history per entity by when each row became
 * visible, keep the newest event seen so far, binary-search each label's time. The benchmark's
 * baseline, and an independent reference the SQL is tested against. Same rule as the SQL (see
 * spec.ts): visible at L iff ingestion_time <= L (as online, whatever the event time); newest by
 * (event_time, event_id); within the TTL iff event_time + ttl > L.
 */

export interface HistoryRow {
  readonly entity: string;
  readonly eventTime: number;
  readonly eventId: string;
  readonly ingestionTime: number;
}

export interface LabelRow {
  readonly entity: string | null;
  readonly time: number;
}

const newer = (a: HistoryRow, b: HistoryRow) =>
  a.eventTime !== b.eventTime ? a.eventTime > b.eventTime : a.eventId > b.eventId;

/** For each label, the history row whose values it gets (or undefined: none visible within the TTL). */
export function jsPointInTimeJoin<R extends HistoryRow>(
  history: readonly R[],
  labels: readonly LabelRow[],
  ttlMs: number,
): (R | undefined)[] {
  const visibleAt = (r: HistoryRow) => r.ingestionTime;
  const sorted = [...history].sort((a, b) =>
    a.entity < b.entity ? -1 : a.entity > b.entity ? 1 : visibleAt(a) - visibleAt(b),
  );
  const times = new Float64Array(sorted.length);
  const newest: R[] = new Array(sorted.length);
  const ranges = new Map<string, [number, number]>();
  let start = 0;
  for (let i = 0; i < sorted.length; i++) {
    const row = sorted[i] as R;
    const first = i === start;
    const previous = first ? undefined : newest[i - 1];
    times[i] = visibleAt(row);
    newest[i] = !previous || newer(row, previous) ? row : previous;
    const next = sorted[i + 1];
    if (!next || next.entity !== row.entity) {
      ranges.set(row.entity, [start, i + 1]);
      start = i + 1;
    }
  }
  return labels.map((label) => {
    const range = label.entity === null ? undefined : ranges.get(label.entity);
    if (!range) return undefined;
    // The last row of the entity visible at the label time.
    let lo = range[0];
    let hi = range[1];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((times[mid] as number) <= label.time) lo = mid + 1;
      else hi = mid;
    }
    if (lo === range[0]) return undefined;
    const row = newest[lo - 1] as R;
    return row.eventTime + ttlMs > label.time ? row : undefined;
  });
}
