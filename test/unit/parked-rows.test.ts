/**
 * Never lost, the offline store (process-batch.ts step 8): an offline object the offline bucket still
 * refuses as its records near the age the event source mapping gives up at is parked in the
 * side-output bucket (parked-rows/), the batch completes, and `npm run redrive` puts the object in
 * place under its own key and KMS key. Given up instead, the records would stay applied online with
 * no history, which no redrive could write (their copies are duplicates). Erasure refuses to run
 * while rows are parked, as it would not reach them.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  InMemoryEntityStore,
  InMemoryOfflineSink,
  InMemorySideOutput,
} from '../../lambdas/adapters/memory.js';
import { S3OfflineSink } from '../../lambdas/adapters/s3-offline-sink.js';
import type { OfflineBatch, OfflineSink, PutResult } from '../../lambdas/core/ports.js';
import { type ProcessorDeps, processBatch } from '../../lambdas/core/process-batch.js';
import { forget } from '../../offline/erasure/forget.js';
import { redrive } from '../../offline/redrive/redrive.js';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { MemoryObjectStore } from '../support/memory-object-store.js';
import { envelope, FIRST_SEQUENCE, inputRecords, transaction } from '../support/records.js';

const HOUR = 3_600_000;
const ARRIVAL = Date.parse('2026-07-01T08:00:00Z');
const GENERAL = 'arn:aws:kms:me-central-1:111122223333:key/11111111-2222-3333-4444-555555555555';

/** The in-memory sink, whose offline bucket refuses the merchant history while `refusing`. */
function refusingMerchants(state: { refusing: boolean }) {
  const sink = new InMemoryOfflineSink();
  const offline: OfflineSink & { sink: InMemoryOfflineSink } = {
    sink,
    append: async (batches: readonly OfflineBatch[]): Promise<PutResult[]> => {
      const ok = batches.filter((b) => !(state.refusing && b.prefix.startsWith('features/group=merchant/')));
      await sink.append(ok);
      return batches.map((b) =>
        ok.includes(b)
          ? 'stored'
          : {
              failed: Object.assign(new Error('AccessDenied (KMS key disabled)'), {
                name: 'OfflineStoreError',
              }),
            },
      );
    },
    park: (batches) => sink.park(batches),
  };
  return offline;
}

// Built once: a redelivery carries the very same records (the builders number event ids).
const RECORDS = inputRecords(
  [
    envelope(
      transaction({ customerId: 'cus_rows1', merchantId: 'mer_rows1', eventTime: '2026-07-01T07:59:00Z' }),
    ),
    envelope(
      transaction({ customerId: 'cus_rows2', merchantId: 'mer_rows1', eventTime: '2026-07-01T07:59:30Z' }),
    ),
  ],
  { firstSequence: FIRST_SEQUENCE, arrivalTime: ARRIVAL },
);
const records = () => RECORDS;

const s3Sink = () =>
  new S3OfflineSink({
    bucket: 'offline',
    parkBucket: 'side-outputs',
    client: new S3Client({ region: 'me-central-1' }),
    objectKeyIds: { 'features/group=merchant/': GENERAL },
  });
const merchantBatch: OfflineBatch = {
  prefix: 'features/group=merchant/',
  dt: '2026-07-01',
  batchId: 'b-1',
  columns: [],
  cells: [],
};

describe('offline objects parked as their records near the age limit', () => {
  const deps = (offline: OfflineSink, at: number): ProcessorDeps => ({
    contracts,
    groupsFedBy,
    entities: new InMemoryEntityStore(),
    offline,
    sideOutput: new InMemorySideOutput(),
    sleep: async () => {},
    parkAfterMs: 22 * HOUR,
    now: () => at,
  });
  /**
   * The entities after the records' first delivery, an hour after they arrived, through `offline`
   * (which fails it): their customers decided them then. (Not decided by the park age, a record is
   * parked whole instead: process-batch.ts step 7.)
   */
  const decidedYoung = async (offline: OfflineSink) => {
    const entities = new InMemoryEntityStore();
    const young = await processBatch(records(), { ...deps(offline, ARRIVAL + HOUR), entities });
    expect(young.failed).toHaveLength(2);
    return entities;
  };

  it('fails the batch while its records are young, and parks the object once they near the age limit', async () => {
    const state = { refusing: true };
    const offline = refusingMerchants(state);
    const entities = new InMemoryEntityStore();
    const young = await processBatch(records(), { ...deps(offline, ARRIVAL + HOUR), entities });
    expect(young.failed).toHaveLength(2);
    expect(young.rowsParked).toBe(0);
    expect(offline.sink.parked.size).toBe(0);

    // A day later, the key still disabled: the same batch again, past the park age.
    const old = await processBatch(records(), { ...deps(offline, ARRIVAL + 22 * HOUR), entities });
    expect(old.failed).toEqual([]);
    expect(old.rowsParked).toBe(1);
    expect([...old.outcomes.values()]).toEqual(['applied', 'applied']);
    expect([...offline.sink.parked.keys()]).toEqual([
      expect.stringMatching(/^features\/group=merchant\/dt=2026-07-01\//),
    ]);
    expect(offline.sink.rows('merchant')).toEqual([]);
    // What npm run redrive does: the merchant history is in place, each event once.
    expect(offline.sink.redriveParked()).toBe(1);
    expect(offline.sink.rows('merchant').map((r) => r.entityId)).toEqual(['mer_rows1', 'mer_rows1']);
    expect(offline.sink.rows('customer')).toHaveLength(2);
  });

  it('fails the batch as before when the object cannot be parked either, and says why', async () => {
    const refusing: OfflineSink = {
      append: async (bs) => bs.map(() => ({ failed: new Error('offline bucket down') })),
      park: async (bs) => bs.map(() => ({ failed: new Error('side-output bucket down') })),
    };
    const entities = await decidedYoung(refusing);
    const result = await processBatch(records(), { ...deps(refusing, ARRIVAL + 23 * HOUR), entities });
    expect(result.failed).toHaveLength(2);
    expect(result.rowsParked).toBe(0);
    expect(result.errors.map((e) => e.message)).toContain('side-output bucket down');
  });

  it('parks in the side-output bucket under parked-rows/ and the offline key, under its own key, naming the dataset key', async () => {
    const s3 = mockClient(S3Client);
    try {
      s3.on(PutObjectCommand).resolves({});
      const sink = s3Sink();
      expect(await sink.park([merchantBatch])).toEqual(['stored']);
      expect(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input)).toEqual([
        expect.objectContaining({
          Bucket: 'side-outputs',
          Key: 'parked-rows/features/group=merchant/dt=2026-07-01/b-1.parquet',
          Metadata: { 'offline-kms-key-id': GENERAL },
        }),
      ]);
      expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.SSEKMSKeyId).toBeUndefined();
    } finally {
      s3.restore();
    }
  });

  it("parks what the dataset's own key refused (a disabled general key), through the real sink", async () => {
    const s3 = mockClient(S3Client);
    try {
      // S3 refuses any put under the general key, as when the key is disabled.
      s3.on(PutObjectCommand).callsFake((input: { SSEKMSKeyId?: string }) => {
        if (input.SSEKMSKeyId === GENERAL)
          throw Object.assign(new Error('KMS.DisabledException'), { name: 'KMSDisabled' });
        return {};
      });
      const entities = await decidedYoung(s3Sink());
      s3.resetHistory();
      const result = await processBatch(records(), { ...deps(s3Sink(), ARRIVAL + 23 * HOUR), entities });
      expect(result).toMatchObject({ failed: [], rowsParked: 1 });
      const keys = s3
        .commandCalls(PutObjectCommand)
        .map((c) => `${c.args[0].input.Bucket}/${c.args[0].input.Key}`);
      expect(keys.filter((k) => k.includes('group=merchant'))).toEqual([
        expect.stringMatching(/^offline\/features\/group=merchant\//),
        expect.stringMatching(/^side-outputs\/parked-rows\/features\/group=merchant\//),
      ]);
    } finally {
      s3.restore();
    }
  });
});

const request = { entity: 'customer:cus_rows1', requestedBy: 'ticket-1', derived: 'keep' } as const;

describe('npm run redrive puts parked offline objects in place', () => {
  const send = async () => ({ sent: 0, rejected: [], unsent: [] });
  const parked = () => {
    const side = new MemoryObjectStore();
    const key = 'parked-rows/features/group=merchant/dt=2026-07-01/b-1.parquet';
    side.objects.set(key, new Uint8Array([80, 65, 82, 49]));
    side.metadata.set(key, { 'offline-kms-key-id': GENERAL });
    return side;
  };

  it('under its offline key and its own KMS key, then removes it from parked-rows/', async () => {
    const side = parked();
    const offline = new MemoryObjectStore();
    const report = await redrive({ store: side, offline, send });
    expect(report.parkedRows).toEqual({ objects: 1, restored: 1 });
    expect([...offline.objects.keys()]).toEqual(['features/group=merchant/dt=2026-07-01/b-1.parquet']);
    expect([...offline.kmsKeys.values()]).toEqual([GENERAL]);
    expect(side.objects.size).toBe(0);
    expect(report.kept).toEqual([]);
  });

  it('keeps it, and says so, without an offline bucket or on a dry run', async () => {
    const side = parked();
    const report = await redrive({ store: side, send });
    expect(report.parkedRows).toEqual({ objects: 1, restored: 0 });
    expect(report.kept).toEqual([
      {
        key: 'parked-rows/features/group=merchant/dt=2026-07-01/b-1.parquet',
        reason: 'a parked offline object, and no offline bucket was given',
      },
    ]);
    const dry = await redrive({ store: side, offline: new MemoryObjectStore(), send }, { dryRun: true });
    expect(dry.parkedRows).toEqual({ objects: 1, restored: 0 });
    expect(side.objects.size).toBe(1);
  });

  it('keeps one it cannot put in place, and says why', async () => {
    const side = parked();
    const offline = new MemoryObjectStore();
    offline.put = async () => {
      throw new Error('AccessDenied');
    };
    const report = await redrive({ store: side, offline, send });
    expect(report.parkedRows).toEqual({ objects: 1, restored: 0 });
    expect(report.kept).toEqual([
      {
        key: 'parked-rows/features/group=merchant/dt=2026-07-01/b-1.parquet',
        reason: 'a parked offline object not put in place: AccessDenied',
      },
    ]);
    expect(side.objects.size).toBe(1);
  });

  it('erasure refuses to run while rows are parked, naming the way out', async () => {
    const refused = forget(request, {
      offline: new MemoryObjectStore(),
      sideOutputs: parked(),
      online: { erase: async () => [] },
      onlineTable: 't',
    });
    await expect(refused).rejects.toThrow(
      '1 offline objects are parked (parked-rows/ in the side-output bucket): run npm run redrive first',
    );
  });

  it('erasure fails, without a record, when rows were parked while it ran', async () => {
    // Parked between the erasure's first look and its end (records the processor was retrying).
    const side = parked();
    let looks = 0;
    const list = side.list.bind(side);
    side.list = async (prefix: string) => (prefix === 'parked-rows/' && looks++ === 0 ? [] : list(prefix));
    const offline = new MemoryObjectStore();
    await expect(
      forget(request, { offline, sideOutputs: side, online: { erase: async () => [] }, onlineTable: 't' }),
    ).rejects.toThrow('1 offline objects are parked, some while this erasure ran, (parked-rows/');
    expect([...offline.objects.keys()].filter((k) => k.startsWith('audit/'))).toEqual([]);
  });
});
