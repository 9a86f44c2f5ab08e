/**
 * Offline retention's work is what is due, not what is kept (found on review: it listed every
 * object of features/ and events/ before deleting any, so a run that could not finish listing, at
 * prod volume, deleted nothing, and every later run failed the same way). A fake S3 that honours
 * Prefix, Delimiter, StartAfter, ContinuationToken and MaxKeys gives the run a budget of listed
 * entries, standing in for the function's time limit and memory.
 */
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { expirePartitions } from '../../lambdas/retention/handler.js';

class BudgetExceeded extends Error {}

function fakeS3(initial: readonly string[], listBudget: number) {
  const keys = new Set(initial);
  let listed = 0;
  const deleted: string[] = [];
  const client = {
    async send(cmd: unknown) {
      if (cmd instanceof ListObjectsV2Command) {
        const { Prefix = '', Delimiter, StartAfter, ContinuationToken, MaxKeys = 1000 } = cmd.input;
        const after = ContinuationToken ?? StartAfter ?? '';
        const sorted = [...keys].filter((k) => k.startsWith(Prefix) && k > after).sort();
        const contents: string[] = [];
        const prefixes: string[] = [];
        let last = '';
        let truncated = false;
        for (const k of sorted) {
          if (k <= last) continue; // inside a common prefix already returned
          if (contents.length + prefixes.length >= MaxKeys) {
            truncated = true;
            break;
          }
          const i = Delimiter ? k.indexOf(Delimiter, Prefix.length) : -1;
          if (i >= 0) {
            const cp = k.slice(0, i + (Delimiter as string).length);
            prefixes.push(cp);
            last = `${cp}\uffff`;
          } else {
            contents.push(k);
            last = k;
          }
        }
        listed += contents.length + prefixes.length;
        if (listed > listBudget) throw new BudgetExceeded(`listed ${listed} entries: out of time/memory`);
        return {
          Contents: contents.map((Key) => ({ Key })),
          CommonPrefixes: prefixes.map((P) => ({ Prefix: P })),
          IsTruncated: truncated,
          NextContinuationToken: truncated ? last : undefined,
          KeyCount: contents.length + prefixes.length,
        };
      }
      if (cmd instanceof DeleteObjectsCommand) {
        for (const o of cmd.input.Delete?.Objects ?? []) {
          keys.delete(o.Key as string);
          deleted.push(o.Key as string);
        }
        return { Errors: [] };
      }
      throw new Error(`unexpected command ${(cmd as object).constructor.name}`);
    },
  };
  return { client: client as unknown as S3Client, keys, deleted };
}

const obj = (dataset: string, dt: string, n: number) =>
  `${dataset}dt=${dt}/shardId-000000000003-${String(n).padStart(56, '4')}-${String(n).padStart(56, '5')}-500.parquet`;

const day = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);

describe('offline retention at scale', () => {
  it('deletes the due partition although the retained window is larger than one run can list', async () => {
    // One due day of 2,000 objects (one dataset), then 60 retained days of 500 objects each (30,000
    // objects): a run may list 10,000 entries. What is due fits easily; what is kept does not.
    const keys: string[] = [];
    for (let n = 0; n < 2_000; n++) keys.push(obj('features/group=customer/', day(0), n));
    for (let d = 1; d <= 60; d++)
      for (let n = 0; n < 500; n++) keys.push(obj('features/group=customer/', day(d), n));
    const s3 = fakeS3(keys, 10_000);

    const run = expirePartitions(s3.client, 'offline', day(1));
    await expect(run).resolves.toMatchObject({ objectsDeleted: 2_000 });
    expect(s3.deleted).toHaveLength(2_000);
  });

  it('makes progress on what it has listed before a run is cut short', async () => {
    // 30 due days of 1,000 objects: listing them all (30,000) exceeds one run; the first pages'
    // deletes should still happen, so that repeated runs converge. Today: zero deletes, every day.
    const keys: string[] = [];
    for (let d = 0; d < 30; d++)
      for (let n = 0; n < 1_000; n++) keys.push(obj('events/contract=transaction/', day(d), n));
    const s3 = fakeS3(keys, 10_000);

    await expirePartitions(s3.client, 'offline', day(100)).catch((e) => {
      if (!(e instanceof BudgetExceeded)) throw e;
    });
    expect(s3.deleted.length).toBeGreaterThan(0);
  });
});

/** A minimal S3 honouring Prefix, Delimiter and DeleteObjects (one page). */
function minimalS3(initial: readonly string[]) {
  const keys = new Set(initial);
  const client = {
    async send(cmd: unknown) {
      if (cmd instanceof ListObjectsV2Command) {
        const { Prefix = '', Delimiter } = cmd.input;
        const contents: string[] = [];
        const prefixes = new Set<string>();
        for (const k of [...keys].filter((k) => k.startsWith(Prefix)).sort()) {
          const i = Delimiter ? k.indexOf(Delimiter, Prefix.length) : -1;
          if (i >= 0) prefixes.add(k.slice(0, i + 1));
          else contents.push(k);
        }
        return {
          Contents: contents.map((Key) => ({ Key })),
          CommonPrefixes: [...prefixes].map((Prefix) => ({ Prefix })),
          IsTruncated: false,
        };
      }
      if (cmd instanceof DeleteObjectsCommand) {
        for (const o of cmd.input.Delete?.Objects ?? []) keys.delete(o.Key as string);
        return { Errors: [] };
      }
      throw new Error('unexpected command');
    },
  };
  return { client: client as unknown as S3Client, keys };
}

describe('offline retention: datasets', () => {
  it('expires the partitions of a dataset no definition names any more (a retired group or contract)', async () => {
    // Found in the bucket as well as from the definitions (found on review).
    const s3 = minimalS3([
      'features/group=retired_group/dt=2020-01-01/a.parquet',
      'events/contract=retired_contract/dt=2020-01-01/b.parquet',
      'features/group=customer/dt=2020-01-01/c.parquet',
    ]);
    const report = await expirePartitions(s3.client, 'offline', '2026-01-01');
    expect(report.complete).toBe(true);
    expect([...s3.keys]).toEqual([]);
  });
});
