/** Percentiles and number formatting shared by the benchmarks. */

export interface Summary {
  p50: number;
  p95: number;
  max: number;
}

/** Nearest-rank percentile of samples sorted in ascending order; `fraction` is 0–1. */
export function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

export function summarise(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), max: sorted.at(-1)! };
}

export function median(samples: readonly number[]): number {
  return percentile(
    [...samples].sort((a, b) => a - b),
    0.5,
  );
}

/** Formats milliseconds with three decimals below 10 ms and one above. */
export function formatMs(value: number): string {
  return value.toFixed(value < 10 ? 3 : 1);
}

/** Formats value / baseline with two decimals, or "n/a" when the ratio is not finite. */
export function formatRatio(value: number, baseline: number): string {
  const ratio = value / baseline;
  return Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a';
}

/** Times one call of `call`, ms. */
export async function timed(call: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await call();
  return performance.now() - started;
}
