/**
 * Offline, an event is who it is online: its id within the second of its event time. Copies (one
 * event written twice) collapse; the same id with another event time stays another event, as the
 * processor counts it (test/unit/process-batch.test.ts, "recognises a retry by its id within the second").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbSession } from '../../offline/duckdb.js';
import { eventIdentitySql } from '../../offline/event-identity.js';

describe('event identity in offline SQL', () => {
  let session: DuckDbSession;
  beforeAll(async () => {
    session = await DuckDbSession.open({ threads: 1 });
    await session.run(
      `CREATE TABLE e AS SELECT * FROM (VALUES
        ('evt_1', TIMESTAMPTZ '2026-11-25 10:00:00.100+00', 1),
        ('evt_1', TIMESTAMPTZ '2026-11-25 10:00:00.100+00', 2),
        ('evt_1', TIMESTAMPTZ '2026-11-25 10:00:00.900+00', 3),
        ('evt_1', TIMESTAMPTZ '2026-11-25 10:00:05.000+00', 4),
        ('evt_2', TIMESTAMPTZ '2026-11-25 10:00:00.100+00', 5)
      ) AS t(event_id, event_time, ingestion_time)`,
    );
  });
  afterAll(() => session?.close());

  it('keeps one row per id and second, the first to arrive', async () => {
    const rows = await session.rows(
      `SELECT event_id, ingestion_time FROM e
       QUALIFY row_number() OVER (PARTITION BY ${eventIdentitySql()} ORDER BY ingestion_time) = 1
       ORDER BY ingestion_time`,
    );
    expect(rows.map((r) => [r.event_id, Number(r.ingestion_time)])).toEqual([
      ['evt_1', 1],
      ['evt_1', 4],
      ['evt_2', 5],
    ]);
  });
});
