import type { GrayFrame, Rect } from '../core/image.ts';
import { meanAbsoluteDifference, uniformShare } from './frame-metrics.ts';

/** The condition of the image, as far as the frames alone show it. */
export type SignalCondition = 'live' | 'frozen' | 'blank';

export interface SignalMonitorOptions {
  /** Time of unchanged frames after which the image is frozen, s. */
  frozenSeconds: number;
  /** Mean absolute difference at or below which consecutive frames count as unchanged, grey levels. */
  frozenThreshold: number;
  /** Share of pixels near the median at or above which a frame is blank, 0–1. */
  blankUniformShare: number;
}

/**
 * Share of unchanged frame pairs over `frozenSeconds` at or above which the image is frozen. It
 * is below 1 because an encoder's periodic key frame differs slightly from the still frames
 * around it (0.085 grey levels in an H.264 clip of one repeated frame).
 */
const FROZEN_SHARE = 0.9;
/** Consecutive changed frame pairs that end a frozen state. */
const UNFREEZE_FRAMES = 3;

/**
 * Classifies each frame as live, frozen (the scanner's freeze: the same image frame after frame)
 * or blank (a uniform frame, such as a black screen or a capture card's no-signal screen).
 */
export class SignalMonitor {
  private previous: GrayFrame | null = null;
  private readonly history: { timestampS: number; unchanged: boolean }[] = [];
  private firstS: number | null = null;
  private frozen = false;
  private changedRun = 0;

  constructor(private readonly options: SignalMonitorOptions) {}

  /** Classifies `frame`; `area` limits the comparison to the image area when it is known. */
  observe(frame: GrayFrame, timestampS: number, area: Rect | null): SignalCondition {
    const previous = this.previous;
    this.previous = frame;
    const blank = uniformShare(frame) >= this.options.blankUniformShare;
    if (previous === null || previous.width !== frame.width || previous.height !== frame.height) {
      this.resetHistory(timestampS);
      return blank ? 'blank' : 'live';
    }
    const difference = meanAbsoluteDifference(previous, frame, area);
    this.record(timestampS, difference <= this.options.frozenThreshold);
    if (blank) return 'blank';
    return this.frozen ? 'frozen' : 'live';
  }

  /** Forgets the frames seen, after a gap such as a restart of the capture process. */
  reset(): void {
    this.previous = null;
    this.history.length = 0;
    this.firstS = null;
    this.frozen = false;
    this.changedRun = 0;
  }

  private resetHistory(timestampS: number): void {
    this.history.length = 0;
    this.firstS = timestampS;
    this.frozen = false;
    this.changedRun = 0;
  }

  private record(timestampS: number, unchanged: boolean): void {
    this.history.push({ timestampS, unchanged });
    const windowStart = timestampS - this.options.frozenSeconds;
    while (this.history.length > 0 && this.history[0]!.timestampS < windowStart) {
      this.history.shift();
    }
    this.changedRun = unchanged ? 0 : this.changedRun + 1;
    if (this.frozen) {
      if (this.changedRun >= UNFREEZE_FRAMES) this.frozen = false;
      return;
    }
    const covered = this.firstS !== null && timestampS - this.firstS >= this.options.frozenSeconds;
    const unchangedCount = this.history.filter((entry) => entry.unchanged).length;
    if (covered && unchangedCount >= FROZEN_SHARE * this.history.length) this.frozen = true;
  }
}
