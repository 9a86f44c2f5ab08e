import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runContractsCli } from '../../bin/contracts-check.js';
import { checkContracts } from '../../schemas/compatibility/contracts-check.js';
import { formatReport } from '../../schemas/compatibility/report.js';
import { snapshotPath, writeSnapshots } from '../../schemas/compatibility/snapshots.js';
import { type CompatibilityMode, defineContract, type EventContract } from '../../schemas/contract.js';
import { contracts } from '../../schemas/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('contracts gate on the declared contracts', () => {
  it('finds no breaking change and no snapshot drift', () => {
    const check = checkContracts({ contracts: contracts.values() });
    expect(check.ok, formatReport(check)).toBe(true);
    expect(check.contracts.map((c) => c.contract)).toEqual([...contracts.keys()]);
  });

  it('runs as `npm run contracts:check`: exit 0 and a one-line summary', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/contracts-check.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(run.stdout).toMatch(/^contracts:check ok: 1 contract\(s\), 2 version\(s\)/);
  }, 60_000);
});

describe('contracts gate on a deliberately breaking history', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const at = z.iso.datetime({ offset: true });
  const v1 = z.strictObject({
    id: z.string(),
    at,
    channel: z.enum(['pos', 'atm']),
    note: z.string().optional(),
  });
  /** v2 drops the value "atm" and the field "note". */
  const v2 = z.strictObject({ id: z.string(), at, channel: z.enum(['pos']) });
  const order = (compatibility: CompatibilityMode) =>
    defineContract({
      name: 'order',
      version: 2,
      description: 'an order',
      schema: v2,
      previousVersions: [{ version: 1, schema: v1 }],
      compatibility,
      eventIdField: 'id',
      eventTimeField: 'at',
      partitionKeyField: 'id',
      classification: { id: 'public', at: 'public', channel: 'public' },
    });

  /** A registry with every version's snapshot, so only compatibility can fail. */
  const registered = (compatibility: CompatibilityMode) => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-'));
    dirs.push(dir);
    const contract = order(compatibility);
    writeSnapshots([contract], dir);
    return { dir, contract };
  };
  const run = (argv: string[], contract: EventContract, dir: string) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = runContractsCli(argv, {
      contracts: [contract],
      registryDir: dir,
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('exits 1 and explains each breaking change under BACKWARD', () => {
    const { dir, contract } = registered('BACKWARD');
    const result = run([], contract, dir);
    expect(result.code).toBe(1);
    expect(result.err).toContain('FAIL order (BACKWARD): v1, v2');
    expect(result.err).toContain(
      'v2 against v1 [enum-value-removed] field "channel": enum value "atm" removed — consumers on v2 cannot read data written with v1: v1 data may carry "atm", which v2 rejects',
    );
    expect(result.err).toContain(
      'v2 against v1 [field-removed] field "note" removed — consumers on v2 cannot read data written with v1: v2 is closed and no longer declares "note", so v1 data carrying it is rejected',
    );
    expect(result.err).toMatch(/contracts:check failed: 2 finding\(s\) in 1 of 1 contract\(s\)$/);
  });

  it('exits 0 for the same history under FORWARD, which only narrowing passes', () => {
    const { dir, contract } = registered('FORWARD');
    expect(run([], contract, dir)).toMatchObject({ code: 0, err: '' });
  });

  it('exits 1 when a registered snapshot drifted from the code', () => {
    const { dir, contract } = registered('NONE');
    writeFileSync(snapshotPath(dir, 'order', 1), '{"type":"object"}\n');
    const result = run([], contract, dir);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      /v1 \[snapshot-drift\] .*v1\.schema\.json differs from the code: a registered version may never change/,
    );
  });

  it('exits 1 when a version has no snapshot, telling to run contracts:snapshot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-'));
    dirs.push(dir);
    const result = run([], order('NONE'), dir);
    expect(result.code).toBe(1);
    expect(result.err).toContain('[snapshot-missing]');
    expect(result.err).toContain('run `npm run contracts:snapshot`');
  });

  it('exits 1 when the code no longer declares a registered version', () => {
    const { dir } = registered('NONE');
    const onlyV1 = defineContract({
      name: 'order',
      version: 1,
      description: 'an order',
      schema: v1,
      eventIdField: 'id',
      eventTimeField: 'at',
      partitionKeyField: 'id',
      classification: { id: 'public', at: 'public', channel: 'public', note: 'public' },
    });
    const result = run([], onlyV1, dir);
    expect(result.code).toBe(1);
    expect(result.err).toContain('[version-removed] v2 is registered');
  });

  it('refuses `contracts:snapshot` for a registered version that changed, and exits 1', () => {
    const { dir } = registered('NONE');
    const changedV1 = defineContract({
      ...order('NONE'),
      previousVersions: [{ version: 1, schema: v1.extend({ id: z.string().min(2) }) }],
    });
    const result = run(['--snapshot'], changedV1, dir);
    expect(result.code).toBe(1);
    expect(result.err).toContain('contracts:snapshot refused: registered versions may not change: order v1');
  });
});
