import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SchemaExportError, SnapshotConflictError } from '../../schemas/compatibility/errors.js';
import {
  canonicalJson,
  contractJsonSchemas,
  toRegistrySchema,
} from '../../schemas/compatibility/json-schema.js';
import {
  REGISTRY_DIR,
  readSnapshots,
  registeredContracts,
  snapshotPath,
  writeSnapshots,
} from '../../schemas/compatibility/snapshots.js';
import { defineContract } from '../../schemas/contract.js';
import { contracts } from '../../schemas/index.js';

const declared = [...contracts.values()].flatMap((contract) =>
  contractJsonSchemas(contract).map((v) => ({ contract: contract.name, version: v.version, exported: v })),
);

describe('committed JSON Schema snapshots', () => {
  it.each(declared)(
    'keeps the snapshot of $contract v$version identical to the code',
    ({ contract, version, exported }) => {
      const path = snapshotPath(REGISTRY_DIR, contract, version);
      const committed = readSnapshots(REGISTRY_DIR, contract).get(version);
      expect(committed, `${path} is missing: run \`npm run contracts:snapshot\` and commit it`).toBeDefined();
      expect(
        committed,
        `${path} differs from the code. A registered version never changes: restore its schema and add a new version; if it was never registered anywhere, delete the file and run \`npm run contracts:snapshot\``,
      ).toBe(exported.text);
    },
  );

  it.each(declared)('exports $contract v$version as a closed draft-07 object', ({ exported }) => {
    expect(exported.schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(exported.schema.type).toBe('object');
    expect(exported.schema.additionalProperties).toBe(false);
  });

  it('holds no snapshot of a contract or version the code does not declare', () => {
    const inCode = new Set(declared.map((d) => `${d.contract} v${d.version}`));
    const committed = registeredContracts(REGISTRY_DIR).flatMap((name) =>
      [...readSnapshots(REGISTRY_DIR, name).keys()].map((version) => `${name} v${version}`),
    );
    expect(committed.filter((c) => !inCode.has(c))).toEqual([]);
  });
});

describe('JSON Schema export', () => {
  it('refuses an open object: adding an optional field to it would break BACKWARD', () => {
    const open = z.object({ id: z.string() });
    expect(() => toRegistrySchema('open_one', 1, open)).toThrow(SchemaExportError);
    expect(() => toRegistrySchema('open_one', 1, open)).toThrow(/additionalProperties is not false/);
  });

  it('serialises with sorted keys and a sorted required list, whatever the declaration order', () => {
    const a = toRegistrySchema('c', 1, z.strictObject({ b: z.string(), a: z.int() }));
    const b = toRegistrySchema('c', 1, z.strictObject({ a: z.int(), b: z.string() }));
    expect(a.text).toBe(b.text);
    expect(Object.keys(a.schema.properties)).toEqual(['a', 'b']);
    expect(a.schema.required).toEqual(['a', 'b']);
    expect(a.text.endsWith('}\n')).toBe(true);
  });

  it('keeps a field with a default optional (the input side is what producers send)', () => {
    const s = toRegistrySchema('c', 1, z.strictObject({ a: z.string(), n: z.int().default(1) }));
    expect(s.schema.required).toEqual(['a']);
  });

  it('keeps enum values in their declared order', () => {
    expect(canonicalJson({ enum: ['b', 'a'] })).toBe('{\n  "enum": [\n    "b",\n    "a"\n  ]\n}\n');
  });
});

describe('writing snapshots', () => {
  const dirs: string[] = [];
  const tempRegistry = () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const contractWith = (schema: z.ZodObject) =>
    defineContract({
      name: 'order',
      version: 1,
      description: 'an order',
      schema: schema as z.ZodObject<{ id: z.ZodString; at: z.ZodISODateTime }>,
      eventIdField: 'id',
      eventTimeField: 'at',
      partitionKeyField: 'id',
      classification: { id: 'public', at: 'public' },
    });
  const v1 = contractWith(z.strictObject({ id: z.string(), at: z.iso.datetime({ offset: true }) }));

  it('writes the snapshot of a version that has none, and leaves it alone on the next run', () => {
    const dir = tempRegistry();
    expect(writeSnapshots([v1], dir).written).toEqual([snapshotPath(dir, 'order', 1)]);
    expect(writeSnapshots([v1], dir)).toEqual({ written: [], unchanged: [snapshotPath(dir, 'order', 1)] });
    expect(readFileSync(snapshotPath(dir, 'order', 1), 'utf8')).toBe(contractJsonSchemas(v1)[0]?.text);
  });

  it('refuses to rewrite the snapshot of a registered version whose schema changed', () => {
    const dir = tempRegistry();
    writeSnapshots([v1], dir);
    const before = readFileSync(snapshotPath(dir, 'order', 1), 'utf8');
    const changed = contractWith(
      z.strictObject({ id: z.string().min(3), at: z.iso.datetime({ offset: true }) }),
    );
    expect(() => writeSnapshots([changed], dir)).toThrow(SnapshotConflictError);
    expect(() => writeSnapshots([changed], dir)).toThrow(/registered versions may not change: order v1/);
    expect(readFileSync(snapshotPath(dir, 'order', 1), 'utf8')).toBe(before);
  });

  it('writes nothing when any snapshot conflicts', () => {
    const dir = tempRegistry();
    writeFileSync(join(dir, 'placeholder'), '');
    writeSnapshots([v1], dir);
    writeFileSync(snapshotPath(dir, 'order', 1), '{}\n');
    expect(() => writeSnapshots([v1], dir)).toThrow(SnapshotConflictError);
    expect(readFileSync(snapshotPath(dir, 'order', 1), 'utf8')).toBe('{}\n');
  });
});
