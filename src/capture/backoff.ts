/** Capped exponential backoff: each delay doubles the one before, up to `maxMs`. */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /** Returns the delay before the next attempt, ms, and counts one more failure. */
  next(): number {
    // 2^30 already exceeds any configured cap, so the exponent stops growing there.
    const delay = this.initialMs * 2 ** Math.min(this.failures, 30);
    this.failures++;
    return Math.min(delay, this.maxMs);
  }

  /** Starts again from `initialMs`, after an attempt that succeeded. */
  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
