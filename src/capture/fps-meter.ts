/** Window over which the frame rate is measured, s. */
const WINDOW_S = 2;

/** Measures the frame rate from frame timestamps over the last two seconds. */
export class FpsMeter {
  private readonly times: number[] = [];

  record(timestampS: number): void {
    this.times.push(timestampS);
    this.evict(timestampS);
  }

  /**
   * Frames per second over the window that ends at `nowS`; 0 when fewer than two frames
   * arrived in it.
   */
  fps(nowS: number): number {
    this.evict(nowS);
    if (this.times.length < 2) return 0;
    const span = this.times[this.times.length - 1]! - this.times[0]!;
    return span > 0 ? (this.times.length - 1) / span : 0;
  }

  reset(): void {
    this.times.length = 0;
  }

  private evict(nowS: number): void {
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! < nowS - WINDOW_S) drop++;
    if (drop > 0) this.times.splice(0, drop);
  }
}
