import { BvEdgeError } from '../core/errors.ts';
import type { CaptureState, FrameSource, TimedFrame } from '../core/frames.ts';
import { toGray, type Clip, type Frame, type ViewName } from '../core/image.ts';
import { notice } from '../notices/index.ts';

export type PixelFormat = 'gray8' | 'rgb24';

export interface RecordingRequest {
  view: ViewName;
  /** Recording length in source time, s. */
  durationS: number;
  /** Wall time without a frame after which the recording fails, s. */
  frameTimeoutS: number;
  /** Pixel format of the view model's input; frames are converted on arrival. */
  pixelFormat: PixelFormat;
  /** Called about twice per second of source time with the progress so far. */
  onProgress?: (progress: { elapsedS: number; frameCount: number }) => void;
}

export interface RecordedClip {
  clip: Clip;
  endedBy: 'duration' | 'operator';
  /** Capture states other than live that the source reported during the recording. */
  statesSeen: CaptureState[];
  /** Frames dropped because their time was not after the previous frame's. */
  outOfOrderFrames: number;
}

/** Source time between progress callbacks, s. */
const PROGRESS_INTERVAL_S = 0.5;

/**
 * Collects frames from a live source into a clip, from the first frame after `start()` until the
 * requested duration of source time has passed or `stop()` is called. Times come from the
 * source's clock, so a replay faster than real time records the same clip as a live one.
 * `done` rejects with BvEdgeError no_signal, frame_size_changed or recording_cancelled.
 */
export class ClipRecorder {
  readonly done: Promise<RecordedClip>;
  private readonly source: FrameSource;
  private readonly request: RecordingRequest;
  private readonly frames: Frame[] = [];
  private readonly timestampsS: number[] = [];
  private readonly statesSeen = new Set<CaptureState>();
  private outOfOrderFrames = 0;
  private nextProgressS = PROGRESS_INTERVAL_S;
  private unsubscribers: (() => void)[] = [];
  private frameTimer: NodeJS.Timeout | null = null;
  private settled = false;
  private resolveDone!: (clip: RecordedClip) => void;
  private rejectDone!: (error: BvEdgeError) => void;

  constructor(source: FrameSource, request: RecordingRequest) {
    this.source = source;
    this.request = request;
    this.done = new Promise<RecordedClip>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  /** Source time recorded so far, s. */
  get elapsedS(): number {
    const count = this.timestampsS.length;
    return count === 0 ? 0 : this.timestampsS[count - 1]! - this.timestampsS[0]!;
  }

  get frameCount(): number {
    return this.frames.length;
  }

  start(): void {
    this.noteState(this.source.state);
    this.unsubscribers = [
      this.source.subscribe((frame) => this.onFrame(frame)),
      this.source.onStateChange((state) => this.noteState(state)),
    ];
    this.frameTimer = setTimeout(() => this.onFrameTimeout(), this.request.frameTimeoutS * 1000);
  }

  /** Ends the recording now with the frames collected so far. */
  stop(): void {
    this.finish('operator');
  }

  /** Ends the recording and discards its frames. */
  cancel(): void {
    this.fail(
      new BvEdgeError(
        'recording_cancelled',
        notice('notice.workflow.cancelled', { view: this.request.view }),
        { value: this.request.view },
      ),
    );
  }

  private onFrame({ frame, timestampS }: TimedFrame): void {
    if (this.settled) return;
    this.frameTimer?.refresh();
    const first = this.timestampsS[0];
    if (first !== undefined && timestampS - first >= this.request.durationS) {
      this.finish('duration');
      return;
    }
    const previous = this.timestampsS[this.timestampsS.length - 1];
    if (previous !== undefined && !(timestampS > previous)) {
      this.outOfOrderFrames++;
      return;
    }
    if (!this.sameSize(frame)) return;
    this.frames.push(convertFrame(frame, this.request.pixelFormat));
    this.timestampsS.push(timestampS);
    this.reportProgress();
  }

  private sameSize(frame: Frame): boolean {
    const first = this.frames[0];
    if (!first || (first.width === frame.width && first.height === frame.height)) return true;
    const changed = notice('notice.workflow.quality.frameSizeChanged', {
      view: this.request.view,
      fromWidth: first.width,
      fromHeight: first.height,
      toWidth: frame.width,
      toHeight: frame.height,
    });
    this.fail(
      new BvEdgeError('frame_size_changed', changed, {
        value: { from: [first.width, first.height], to: [frame.width, frame.height] },
      }),
    );
    return false;
  }

  private reportProgress(): void {
    const elapsedS = this.elapsedS;
    if (elapsedS < this.nextProgressS) return;
    this.nextProgressS = elapsedS + PROGRESS_INTERVAL_S;
    this.request.onProgress?.({ elapsedS, frameCount: this.frames.length });
  }

  private noteState(state: CaptureState): void {
    if (state !== 'live' && state !== 'starting') this.statesSeen.add(state);
  }

  private onFrameTimeout(): void {
    const timeoutS = this.request.frameTimeoutS;
    const missing = notice('notice.workflow.quality.noFrameFor', {
      view: this.request.view,
      timeoutS,
    });
    this.fail(new BvEdgeError('no_signal', missing, { value: timeoutS }));
  }

  private finish(endedBy: RecordedClip['endedBy']): void {
    if (this.settled) return;
    if (this.frames.length === 0) {
      const missing = notice('notice.workflow.quality.noFrameBeforeStop', {
        view: this.request.view,
      });
      this.fail(new BvEdgeError('no_signal', missing));
      return;
    }
    this.release();
    this.resolveDone({
      clip: this.buildClip(),
      endedBy,
      statesSeen: [...this.statesSeen],
      outOfOrderFrames: this.outOfOrderFrames,
    });
  }

  private fail(error: BvEdgeError): void {
    if (this.settled) return;
    this.release();
    this.rejectDone(error);
  }

  private release(): void {
    this.settled = true;
    if (this.frameTimer) clearTimeout(this.frameTimer);
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    this.unsubscribers = [];
  }

  private buildClip(): Clip {
    const first = this.frames[0]!;
    const t0 = this.timestampsS[0]!;
    const timestampsS = this.timestampsS.map((t) => t - t0);
    const spanS = timestampsS[timestampsS.length - 1]!;
    // One frame has no interval. The quality check rejects such a clip as too short.
    const fps = this.frames.length > 1 && spanS > 0 ? (this.frames.length - 1) / spanS : 1;
    return {
      source: `live ${this.request.view} recording`,
      width: first.width,
      height: first.height,
      channels: first.channels,
      fps,
      frames: this.frames,
      timestampsS,
    };
  }
}

/**
 * Converts a frame to the model's pixel format, copying it, because a capture service may reuse
 * its buffers for later frames.
 */
function convertFrame(frame: Frame, format: PixelFormat): Frame {
  if (format === 'gray8') {
    const gray = toGray(frame);
    return gray === frame ? { ...frame, data: new Uint8Array(frame.data) } : gray;
  }
  if (frame.channels === 3) return { ...frame, data: new Uint8Array(frame.data) };
  const rgb = new Uint8Array(frame.width * frame.height * 3);
  for (let i = 0; i < frame.data.length; i++) {
    const value = frame.data[i]!;
    rgb[i * 3] = value;
    rgb[i * 3 + 1] = value;
    rgb[i * 3 + 2] = value;
  }
  return { width: frame.width, height: frame.height, channels: 3, data: rgb };
}
