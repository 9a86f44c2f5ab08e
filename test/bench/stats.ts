/** Small statistics and timing helpers for the benchmarks (medians, spreads, CPU and wall time). */

export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/** Linear-interpolated quantile (q in [0, 1]) of a non-empty list. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

/** Median and the relative spread between the 25th and 75th percentiles (a noise figure). */
export function summary(xs: readonly number[]): { median: number; iqrPct: number; min: number; max: number } {
  const m = median(xs);
  return {
    median: m,
    iqrPct: m === 0 ? 0 : ((quantile(xs, 0.75) - quantile(xs, 0.25)) / m) * 100,
    min: Math.min(...xs),
    max: Math.max(...xs),
  };
}

export const round = (x: number, digits = 3): number => {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Full collection when node runs with --expose-gc (the bench script does), so a timing starts clean. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export interface Timing {
  readonly wallMs: number;
  /** Process CPU (user + system, every thread: includes V8's GC helper threads). */
  readonly cpuMs: number;
}

export async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; timing: Timing }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { value, timing: { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 } };
}

export const mb = (bytes: number): number => round(bytes / 1024 / 1024, 1);
