/**
 * An event's identity in SQL over offline rows, the same as online (lambdas/core/id-buckets.ts): its
 * id within the second of its event time. Copies of one event (a batch written again under other
 * boundaries) share both; a producer retry is the same event; an id sent again with another event
 * time is another event, online and offline alike.
 */
export const eventIdentitySql = (alias?: string): string => {
  const p = alias ? `${alias}.` : '';
  return `${p}event_id, date_trunc('second', ${p}event_time)`;
};
