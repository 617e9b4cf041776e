/** Sizes of a benchmark run and the formatting the sections share. */

/** Sizes of one run; `--quick` takes the smaller set. */
export interface Plan {
  quick: boolean;
  /** Seconds of 1080p phantom video rendered, and how often the rendered frames repeat. */
  render1080Seconds: number;
  render1080Repeats: number;
  inferenceRuns: number;
  scanSeconds: number[];
  scanRepeats: number;
  drainCounts: number[];
  /** Each drain and raw loop runs this often; the table shows the medians. */
  drainRepeats: number;
  saveScanCount: number;
  warmStarts: number;
  memoryLoops: number;
}

export const FULL: Plan = {
  quick: false,
  render1080Seconds: 1,
  render1080Repeats: 4,
  inferenceRuns: 200,
  scanSeconds: [2, 4, 8],
  scanRepeats: 2,
  drainCounts: [100, 1000, 10_000],
  drainRepeats: 3,
  saveScanCount: 500,
  warmStarts: 3,
  memoryLoops: 40,
};

export const QUICK: Plan = {
  quick: true,
  render1080Seconds: 0.5,
  render1080Repeats: 2,
  inferenceRuns: 40,
  scanSeconds: [2, 4],
  scanRepeats: 1,
  drainCounts: [100, 1000],
  drainRepeats: 1,
  saveScanCount: 100,
  warmStarts: 1,
  memoryLoops: 2,
};

export function seconds(ms: number, digits = 2): string {
  return (ms / 1000).toFixed(digits);
}
