import type { TimedFrame } from '../core/frames.ts';

/** Frame rate that ultrasound video outputs do not exceed; it bounds the ring by count too. */
const MAX_PLAUSIBLE_FPS = 120;

/**
 * The frames of the last `seconds`, oldest first, by their timestamps. A limit of `seconds` ×
 * 120 frames and one of `maxBytes` of pixels bound memory when frames come faster than real
 * time, as from a file decoded at full speed.
 */
export class FrameRing {
  private readonly frames: TimedFrame[] = [];
  private start = 0;
  private bytes = 0;
  private readonly maxFrames: number;

  constructor(
    private readonly seconds: number,
    private readonly maxBytes = Infinity,
  ) {
    this.maxFrames = Math.ceil(seconds * MAX_PLAUSIBLE_FPS);
  }

  push(frame: TimedFrame): void {
    this.frames.push(frame);
    this.bytes += frame.frame.data.length;
    const oldest = frame.timestampS - this.seconds;
    while (this.start < this.frames.length - 1 && this.isOver(oldest)) this.evictOldest();
    // Compacting once half the array is evicted keeps push amortised O(1).
    if (this.start > 64 && this.start * 2 > this.frames.length) {
      this.frames.splice(0, this.start);
      this.start = 0;
    }
  }

  private isOver(oldestS: number): boolean {
    const first = this.frames[this.start]!;
    return (
      first.timestampS < oldestS ||
      this.frames.length - this.start > this.maxFrames ||
      this.bytes > this.maxBytes
    );
  }

  private evictOldest(): void {
    this.bytes -= this.frames[this.start]!.frame.data.length;
    this.start++;
  }

  /** Frames with a timestamp at or after `sinceS`, oldest first; all frames when left out. */
  since(sinceS = -Infinity): TimedFrame[] {
    const frames = this.frames.slice(this.start);
    return sinceS === -Infinity ? frames : frames.filter((frame) => frame.timestampS >= sinceS);
  }

  latest(): TimedFrame | null {
    return this.frames.length > this.start ? this.frames[this.frames.length - 1]! : null;
  }

  get size(): number {
    return this.frames.length - this.start;
  }

  clear(): void {
    this.frames.length = 0;
    this.start = 0;
    this.bytes = 0;
  }
}
