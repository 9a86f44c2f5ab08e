/**
 * The registered history: one committed JSON Schema per contract version at
 * `schemas/registry/<contract>/v<N>.schema.json`. A snapshot, once written, is never rewritten:
 * a registered version is immutable, a change is a new version.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventContract } from '../contract.js';
import { SnapshotConflictError } from './errors.js';
import { contractJsonSchemas } from './json-schema.js';

/** `schemas/registry/` of this repository. */
export const REGISTRY_DIR = fileURLToPath(new URL('../registry/', import.meta.url));

const SNAPSHOT_FILE = /^v([1-9]\d*)\.schema\.json$/;

export const snapshotPath = (registryDir: string, contract: string, version: number): string =>
  join(registryDir, contract, `v${version}.schema.json`);

/** Path for messages: relative to the working directory when inside it. */
export const displayPath = (path: string): string => {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
};

/** The registered snapshots of one contract: version -> file text. */
export function readSnapshots(registryDir: string, contract: string): Map<number, string> {
  const dir = join(registryDir, contract);
  const snapshots = new Map<number, string>();
  if (!existsSync(dir)) return snapshots;
  for (const file of readdirSync(dir)) {
    const match = SNAPSHOT_FILE.exec(file);
    if (match) snapshots.set(Number(match[1]), readFileSync(join(dir, file), 'utf8'));
  }
  return snapshots;
}

/** Contract names that have a folder in the registry. */
export const registeredContracts = (registryDir: string): string[] =>
  existsSync(registryDir)
    ? readdirSync(registryDir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort()
    : [];

export interface SnapshotWrite {
  readonly written: readonly string[];
  readonly unchanged: readonly string[];
}

/**
 * Writes the snapshot of every version that has none. Refuses, writing nothing, when an existing
 * snapshot differs from the code: that version is registered and may not change.
 */
export function writeSnapshots(
  contracts: Iterable<EventContract>,
  registryDir: string = REGISTRY_DIR,
): SnapshotWrite {
  const pending: { path: string; text: string }[] = [];
  const unchanged: string[] = [];
  const conflicts: string[] = [];
  for (const contract of contracts) {
    const registered = readSnapshots(registryDir, contract.name);
    for (const v of contractJsonSchemas(contract)) {
      const path = snapshotPath(registryDir, contract.name, v.version);
      const existing = registered.get(v.version);
      if (existing === undefined) pending.push({ path, text: v.text });
      else if (existing === v.text) unchanged.push(path);
      else conflicts.push(`${contract.name} v${v.version} (${displayPath(path)})`);
    }
  }
  if (conflicts.length > 0) {
    throw new SnapshotConflictError(
      `registered versions may not change: ${conflicts.join(', ')} differ from the code. Restore their schemas and add a new version instead; only if a version was never registered anywhere, delete its snapshot and run this again.`,
      conflicts.join(', '),
    );
  }
  for (const { path, text } of pending) {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  }
  return { written: pending.map((p) => p.path), unchanged };
}
