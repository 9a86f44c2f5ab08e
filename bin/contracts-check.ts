/**
 * `npm run contracts:check`: every contract against its registered snapshots and its declared
 * compatibility mode; exit 1 on any breaking change or snapshot drift.
 * `npm run contracts:snapshot`: writes the snapshots of versions not registered yet (never
 * rewrites a registered one).
 */
import { pathToFileURL } from 'node:url';
import { checkContracts } from '../schemas/compatibility/contracts-check.js';
import { SnapshotConflictError } from '../schemas/compatibility/errors.js';
import { formatReport } from '../schemas/compatibility/report.js';
import { displayPath, writeSnapshots } from '../schemas/compatibility/snapshots.js';
import type { EventContract } from '../schemas/contract.js';
import { contracts as declaredContracts } from '../schemas/index.js';

export interface CliOptions {
  readonly contracts?: Iterable<EventContract>;
  readonly registryDir?: string;
  readonly out?: (line: string) => void;
  readonly err?: (line: string) => void;
}

/** Runs the CLI and returns its exit code. */
export function runContractsCli(argv: readonly string[], options: CliOptions = {}): number {
  const contracts = [...(options.contracts ?? declaredContracts.values())];
  const out = options.out ?? ((line: string) => console.log(line));
  const err = options.err ?? ((line: string) => console.error(line));
  if (argv.includes('--snapshot')) {
    try {
      const { written, unchanged } = writeSnapshots(contracts, options.registryDir);
      for (const path of written) out(`wrote ${displayPath(path)}`);
      out(`contracts:snapshot: ${written.length} written, ${unchanged.length} unchanged`);
    } catch (error) {
      if (!(error instanceof SnapshotConflictError)) throw error;
      err(`contracts:snapshot refused: ${error.message}`);
      return 1;
    }
  }
  const check = checkContracts({
    contracts,
    ...(options.registryDir ? { registryDir: options.registryDir } : {}),
  });
  (check.ok ? out : err)(formatReport(check));
  return check.ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = runContractsCli(process.argv.slice(2));
}
