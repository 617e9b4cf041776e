import { decodeClip, type PixelFormat } from '../../src/capture/decode.ts';
import type { CaptureState, FrameSource, TimedFrame } from '../../src/core/frames.ts';
import type { Clip, Frame, Rect } from '../../src/core/image.ts';

export interface FileFrameSourceOptions {
  /** Replay pace as a multiple of real time; 8 plays a 6 s clip in 0.75 s. Default 1. */
  speed?: number;
  pixelFormat?: PixelFormat;
  /** Image area to report; default null, so the workflow detects it from each recording. */
  imageArea?: Rect | null;
}

/** Period of the replay timer, ms. Frames that fell due during a stall are sent together. */
const TICK_MS = 5;

/** Decoded clips by path and pixel format, shared by every source in the test process. */
const decoded = new Map<string, Promise<Clip>>();

/**
 * A live source over decoded files, for tests. It replays one clip at a time in a loop. Its
 * timestamps advance by the clip's frame interval on one monotonic clock, so a replay at eight
 * times real time yields the same timed frames as a live source. Its state is `live` while it
 * plays and `no-signal` while paused.
 */
export class FileFrameSource implements FrameSource {
  private readonly options: Required<FileFrameSourceOptions>;
  private readonly frameListeners = new Set<(frame: TimedFrame) => void>();
  private readonly stateListeners = new Set<(state: CaptureState) => void>();
  private currentState: CaptureState = 'stopped';
  private frames: Frame[] = [];
  private frameIntervalS = 1 / 30;
  private nextIndex = 0;
  /** Source clock, s: the timestamp of the next frame. */
  private clockS = 0;
  private startedAtMs = 0;
  private sentSinceStart = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: FileFrameSourceOptions = {}) {
    this.options = {
      speed: options.speed ?? 1,
      pixelFormat: options.pixelFormat ?? 'gray8',
      imageArea: options.imageArea ?? null,
    };
  }

  get state(): CaptureState {
    return this.currentState;
  }

  get fps(): number {
    return this.currentState === 'live' ? 1 / this.frameIntervalS : 0;
  }

  imageArea(): Rect | null {
    return this.options.imageArea;
  }

  subscribe(listener: (frame: TimedFrame) => void): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  onStateChange(listener: (state: CaptureState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Decodes `path` (once per process) and replays it from its first frame, looping. */
  async play(path: string): Promise<void> {
    const clip = await decodeOnce(path, this.options.pixelFormat);
    this.playFrames(clip.frames, clip.fps);
  }

  /** Replays `frames` at `fps` from the first, looping; for synthetic content. */
  playFrames(frames: Frame[], fps: number): void {
    if (frames.length === 0 || !(fps > 0)) throw new Error('playFrames needs frames and fps > 0');
    this.halt();
    this.frames = frames;
    this.frameIntervalS = 1 / fps;
    this.nextIndex = 0;
    this.startedAtMs = performance.now();
    this.sentSinceStart = 0;
    this.setState('live');
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops sending frames, as when the cable is pulled; the state becomes `no-signal`. */
  pause(): void {
    this.halt();
    this.setState('no-signal');
  }

  stop(): void {
    this.halt();
    this.setState('stopped');
  }

  private tick(): void {
    const elapsedS = ((performance.now() - this.startedAtMs) / 1000) * this.options.speed;
    const due = Math.floor(elapsedS / this.frameIntervalS) - this.sentSinceStart;
    for (let i = 0; i < due && this.timer; i++) this.sendFrame();
  }

  private sendFrame(): void {
    const frame = this.frames[this.nextIndex]!;
    this.nextIndex = (this.nextIndex + 1) % this.frames.length;
    const timed = { frame, timestampS: this.clockS };
    this.clockS += this.frameIntervalS;
    this.sentSinceStart++;
    for (const listener of [...this.frameListeners]) listener(timed);
  }

  private halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private setState(state: CaptureState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }
}

function decodeOnce(path: string, pixelFormat: PixelFormat): Promise<Clip> {
  const key = `${pixelFormat}:${path}`;
  let clip = decoded.get(key);
  if (!clip) {
    clip = decodeClip(path, { pixelFormat });
    decoded.set(key, clip);
  }
  return clip;
}
