/**
 * `npm run bench [-- <name> ...]`: runs the named benchmarks (all by default), one after another in
 * this process, and prints one JSON object per line on stdout and a readable table on stderr.
 *
 * A new benchmark is one file `<name>.bench.ts` exporting a `Bench` (see bench.ts), added to BENCHES.
 */
import type { Bench, BenchOutput } from './bench.js';
import { lookupBench } from './lookup.bench.js';
import { pitJoinBench } from './pit-join.bench.js';
import { processorBench } from './processor.bench.js';
import { writeCostBench } from './write-cost.bench.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const BENCHES: readonly Bench[] = [processorBench, writeCostBench, pitJoinBench, lookupBench];

function printTable(bench: Bench, output: BenchOutput, seconds: number): void {
  const width = Math.max(...output.table.map((r) => r.label.length));
  const valueWidth = Math.max(...output.table.map((r) => r.value.length));
  const lines = [
    '',
    `== ${bench.name}: ${bench.description} (${seconds.toFixed(1)} s)`,
    ...output.table.map(
      (r) => `  ${r.label.padEnd(width)}  ${r.value.padStart(valueWidth)}${r.note ? `  ${r.note}` : ''}`,
    ),
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown bench: ${unknown.join(', ')} (known: ${BENCHES.map((b) => b.name).join(', ')})\n`,
    );
    process.exitCode = 2;
    return;
  }
  const selected = names.length === 0 ? BENCHES : BENCHES.filter((b) => names.includes(b.name));
  if (!(globalThis as { gc?: unknown }).gc) {
    process.stderr.write('note: run node with --expose-gc (npm run bench does) for cleaner timings\n');
  }
  const started = performance.now();
  for (const bench of selected) {
    const t0 = performance.now();
    const output = await bench.run((message) => process.stderr.write(`  [${bench.name}] ${message}\n`));
    const seconds = (performance.now() - t0) / 1000;
    process.stdout.write(
      `${JSON.stringify({ bench: bench.name, ...output.json, bench_seconds: Math.round(seconds * 10) / 10 })}\n`,
    );
    printTable(bench, output, seconds);
  }
  process.stderr.write(`\nall benches: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

await main();
