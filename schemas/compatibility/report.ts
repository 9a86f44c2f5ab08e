/** The human-readable report of `npm run contracts:check`. */
import type { ContractsCheck } from './contracts-check.js';

const versionsText = (versions: readonly number[]): string =>
  versions.length ? versions.map((v) => `v${v}`).join(', ') : 'no versions';

/** One line when everything holds; otherwise every contract with its findings, one per line. */
export function formatReport(check: ContractsCheck): string {
  const versionCount = check.contracts.reduce((n, c) => n + c.versions.length, 0);
  if (check.ok) {
    const each = check.contracts.map((c) => `${c.contract} ${versionsText(c.versions)} ${c.mode}`).join('; ');
    return `contracts:check ok: ${check.contracts.length} contract(s), ${versionCount} version(s), snapshots match, no breaking change (${each})`;
  }
  const lines: string[] = [];
  for (const c of check.contracts) {
    const mark = c.findings.length ? 'FAIL' : 'ok  ';
    lines.push(`${mark} ${c.contract} (${c.mode ?? 'not declared'}): ${versionsText(c.versions)}`);
    for (const f of c.findings) {
      const where = f.against === undefined ? `v${f.version}` : `v${f.version} against v${f.against}`;
      lines.push(`     ${where} [${f.kind}] ${f.message}`);
    }
  }
  const failing = check.contracts.filter((c) => c.findings.length).length;
  lines.push(
    `contracts:check failed: ${check.findings} finding(s) in ${failing} of ${check.contracts.length} contract(s)`,
  );
  return lines.join('\n');
}
