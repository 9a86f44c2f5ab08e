/**
 * What the handlers log, at INFO as deployed: the lines are there (so the test can fail), and no
 * PII or field value is in them, whatever happens (valid, invalid and failed records; lookups that
 * succeed, are refused or fail).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import type { EntityStore } from '../../lambdas/core/ports.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { lookupGetEvent } from '../support/lookup-events.js';
import { envelope, inputRecords, kinesisEvent, transaction } from '../support/records.js';

const EMAIL = 'someone.private@example.ae';
const AMOUNT = 43_219_876; // under the contract's amount limit

describe('handler logs', () => {
  const lines: string[] = [];
  let restore: () => void;
  beforeAll(() => {
    process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
    vi.resetModules(); // the loggers read their level when the handler modules load
    const capture = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture); // warnings and errors
    restore = () => {
      out.mockRestore();
      err.mockRestore();
      process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    };
  });
  afterAll(() => restore());

  it('carry counts, ids and reasons but never PII or field values', async () => {
    const { createHandler: processor } = await import('../../lambdas/processor/handler.js');
    const { createHandler: lookup } = await import('../../lambdas/lookup/handler.js');
    const entities = new InMemoryEntityStore();
    const failing: EntityStore = {
      load: async (k) => k.map(() => undefined),
      save: async (w) => w.map(() => ({ failed: new Error('throttled') })),
    };
    const deps = {
      contracts,
      groupsFedBy,
      offline: new InMemoryOfflineSink(),
      sideOutput: new InMemorySideOutput(),
      sleep: async () => {},
    };
    const good = transaction({
      customerEmail: EMAIL,
      amountMinor: AMOUNT,
      eventTime: new Date().toISOString(),
    });
    const bad = { ...good, eventId: 'evt_bad_00001', currency: 'dirham' };
    const event = kinesisEvent(inputRecords([envelope(good), envelope(bad)], { arrivalTime: Date.now() }));
    await processor(() => ({ ...deps, entities }))(event);
    // Nothing completes: the batch fails whole (so that the event source mapping bisects it).
    await expect(processor(() => ({ ...deps, entities: failing }))(event)).rejects.toThrow(
      'no record of the batch completed',
    );

    const ok = lookup(() => ({ store: entities, maxEntities: 10, rolePrefix: 'fp-t' }));
    const broken = lookup(() => ({
      store: { load: async () => Promise.reject(new Error('store unavailable')), save: async () => [] },
      maxEntities: 10,
      rolePrefix: 'fp-t',
    }));
    const get = lookupGetEvent('customer', 'cus_0001', {
      rolePrefix: 'fp-t',
      role: 'consumer-fraud-scoring',
      requestId: 'r1',
    });
    const first = await ok(get);
    expect(first.statusCode, first.body).toBe(200);
    expect(
      (
        await ok({
          ...get,
          requestContext: { ...get.requestContext, identity: { userArn: 'arn:aws:sts::1:assumed-role/x/s' } },
        } as never)
      ).statusCode,
    ).toBe(403);
    expect((await broken(get)).statusCode).toBe(500);

    const output = lines.join('');
    expect(output).toContain('batch processed');
    expect(output).toContain('batch failed from its first record');
    // Where: what a redrive from the stream needs, should the on-failure bucket lose them.
    const failure = output
      .split('\n')
      .find((l) => l.includes('batch failed from its first record')) as string;
    expect(JSON.parse(failure)).toMatchObject({
      shardId: event.Records[0]?.eventID.split(':')[0],
      firstFailed: event.Records[0]?.kinesis.sequenceNumber,
      lastFailed: event.Records[1]?.kinesis.sequenceNumber,
      firstFailedArrivedAt: new Date(
        (event.Records[0]?.kinesis.approximateArrivalTimestamp as number) * 1000,
      ).toISOString(),
    });
    expect(output).toContain('"decision":"allow"');
    expect(output).toContain('"decision":"deny"');
    expect(output).toContain('lookup failed');
    expect(output).not.toContain(EMAIL);
    expect(output).not.toContain('someone.private');
    expect(output).not.toContain(String(AMOUNT));
  });
});
