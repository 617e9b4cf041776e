import type { Frame, Rect, ViewName } from './image.ts';

/** Capture states reported by a live frame source. */
export type CaptureState =
  'starting' | 'live' | 'no-signal' | 'frozen' | 'blank' | 'error' | 'stopped';

/** One frame from live capture with its time in seconds on the source's monotonic clock. */
export interface TimedFrame {
  frame: Frame;
  timestampS: number;
}

/**
 * Live frames as the scan workflow consumes them. The capture service implements it, and tests
 * implement it over decoded files.
 */
export interface FrameSource {
  readonly state: CaptureState;
  /** Measured frame rate over the last seconds, frames per second. */
  readonly fps: number;
  /** Ultrasound image area in source pixels, or null while it is not known yet. */
  imageArea(): Rect | null;
  /** Calls `listener` for every new frame until the returned function is called. */
  subscribe(listener: (frame: TimedFrame) => void): () => void;
  /** Calls `listener` on every state change until the returned function is called. */
  onStateChange(listener: (state: CaptureState) => void): () => void;
  /**
   * Called before `view` is recorded. A source that shows each view its own image (the phantom
   * source in follow mode) switches to it and resolves once that image is live.
   */
  prepareView?(view: ViewName): Promise<void>;
}
