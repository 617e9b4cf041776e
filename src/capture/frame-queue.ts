/** A packed grey frame waiting in the capture process to be written to the daemon. */
export interface QueuedFrame {
  data: Uint8Array;
  width: number;
  height: number;
  timestampS: number;
  sequence: number;
}

/**
 * The bounded frame queue between the appsink and the daemon. For real-time sources a full
 * queue drops its oldest frame, because a live frame that waits loses its value. For other
 * sources a full queue stops accepting frames, so the pipeline waits.
 */
export class FrameQueue {
  private readonly frames: QueuedFrame[] = [];

  constructor(
    private readonly capacity: number,
    private readonly dropOldest: boolean,
  ) {}

  /** Adds a frame; returns true when the oldest frame was dropped to make room. */
  push(frame: QueuedFrame): boolean {
    this.frames.push(frame);
    if (this.dropOldest && this.frames.length > this.capacity) {
      this.frames.shift();
      return true;
    }
    return false;
  }

  shift(): QueuedFrame | undefined {
    return this.frames.shift();
  }

  /** Whether another frame may be pulled now; always true when the queue drops the oldest. */
  get accepting(): boolean {
    return this.dropOldest || this.frames.length < this.capacity;
  }

  get length(): number {
    return this.frames.length;
  }
}
