/**
 * The contracts gate behind `npm run contracts:check` (and a unit test, so it runs in `npm test`):
 * every contract's versions, as the code declares them, against the registered snapshots
 * (missing, drifted or vanished versions) and against its declared compatibility mode.
 */
import type { CompatibilityMode, EventContract } from '../contract.js';
import { checkHistory, type Finding } from './compatibility.js';
import { contractJsonSchemas, type VersionSchema } from './json-schema.js';
import { displayPath, REGISTRY_DIR, readSnapshots, registeredContracts, snapshotPath } from './snapshots.js';

export type SnapshotProblem =
  | 'snapshot-missing'
  | 'snapshot-drift'
  | 'version-removed'
  | 'contract-removed'
  | 'not-closed';

export interface ContractFinding {
  readonly contract: string;
  readonly version: number;
  readonly kind: SnapshotProblem | Finding['kind'];
  /** The version a compatibility finding breaks against. */
  readonly against?: number;
  readonly message: string;
}

export interface ContractReport {
  readonly contract: string;
  readonly mode: CompatibilityMode | undefined;
  readonly versions: readonly number[];
  readonly findings: readonly ContractFinding[];
}

export interface ContractsCheck {
  readonly ok: boolean;
  readonly contracts: readonly ContractReport[];
  readonly findings: number;
}

export interface CheckContractsOptions {
  readonly contracts: Iterable<EventContract>;
  /** @default schemas/registry of this repository */
  readonly registryDir?: string;
}

function snapshotFindings(contract: EventContract, versions: readonly VersionSchema[], registryDir: string) {
  const registered = readSnapshots(registryDir, contract.name);
  const findings: ContractFinding[] = [];
  for (const v of versions) {
    const path = displayPath(snapshotPath(registryDir, contract.name, v.version));
    const text = registered.get(v.version);
    if (text === undefined) {
      findings.push({
        contract: contract.name,
        version: v.version,
        kind: 'snapshot-missing',
        message: `no registered snapshot ${path}: run \`npm run contracts:snapshot\` and commit it`,
      });
    } else if (text !== v.text) {
      findings.push({
        contract: contract.name,
        version: v.version,
        kind: 'snapshot-drift',
        message: `${path} differs from the code: a registered version may never change (that would rewrite history). Restore v${v.version}'s schema and declare the change as a new version; only if v${v.version} was never registered anywhere, delete the snapshot and run \`npm run contracts:snapshot\``,
      });
    }
  }
  const declared = new Set(versions.map((v) => v.version));
  for (const version of [...registered.keys()].sort((a, b) => a - b)) {
    if (!declared.has(version))
      findings.push({
        contract: contract.name,
        version,
        kind: 'version-removed',
        message: `v${version} is registered (${displayPath(snapshotPath(registryDir, contract.name, version))}) but the code no longer declares it; producers may still send it`,
      });
  }
  return findings;
}

function checkContract(contract: EventContract, registryDir: string): ContractReport {
  let versions: VersionSchema[];
  try {
    versions = contractJsonSchemas(contract);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      contract: contract.name,
      mode: contract.compatibility,
      versions: [],
      findings: [{ contract: contract.name, version: contract.version, kind: 'not-closed', message }],
    };
  }
  const compatibility = checkHistory(versions, contract.compatibility).map(
    (f): ContractFinding => ({
      contract: contract.name,
      version: f.version,
      kind: f.kind,
      against: f.against,
      message: f.message,
    }),
  );
  return {
    contract: contract.name,
    mode: contract.compatibility,
    versions: versions.map((v) => v.version),
    findings: [...snapshotFindings(contract, versions, registryDir), ...compatibility],
  };
}

/** Checks every contract; `ok` only when there is no breaking change and no snapshot problem. */
export function checkContracts(options: CheckContractsOptions): ContractsCheck {
  const registryDir = options.registryDir ?? REGISTRY_DIR;
  const contracts = [...options.contracts];
  const reports = contracts.map((c) => checkContract(c, registryDir));
  const names = new Set(contracts.map((c) => c.name));
  for (const name of registeredContracts(registryDir)) {
    if (names.has(name)) continue;
    reports.push({
      contract: name,
      mode: undefined,
      versions: [],
      findings: [
        {
          contract: name,
          version: 0,
          kind: 'contract-removed',
          message: `contract ${name} is registered (${displayPath(`${registryDir}/${name}`)}) but no longer declared in schemas/index.ts`,
        },
      ],
    });
  }
  const findings = reports.reduce((n, r) => n + r.findings.length, 0);
  return { ok: findings === 0, contracts: reports, findings };
}
