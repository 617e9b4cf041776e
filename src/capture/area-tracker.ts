import { Worker } from 'node:worker_threads';
import type { TimedFrame } from '../core/frames.ts';
import type { Rect } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import type { AreaRequest, AreaResponse } from './area-thread.ts';

/** Frames needed before the first automatic image area; fewer give a noisy temporal variance. */
const MIN_FRAMES = 10;
/** Time the frames must span before the first automatic image area, s. */
const MIN_SPAN_S = 1;
/** Frames sent to the thread per computation, the number that detectImageArea samples. */
const SAMPLE_FRAMES = 40;

const THREAD_MODULE = new URL('./area-thread.ts', import.meta.url);

/**
 * Source of the thread bootstrap. Node 20 does not carry the tsx loader of the main thread into
 * worker threads, so the bootstrap registers tsx's ESM loader before importing the module.
 */
function bootstrapSource(): string {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  return (
    `import(${JSON.stringify(tsxApi)})` +
    `.then(({ register }) => { register(); return import(${JSON.stringify(THREAD_MODULE.href)}); });`
  );
}

/**
 * The automatic image area of live capture: detectImageArea over the recent frames in a worker
 * thread, recomputed every `refreshSeconds` while the image is live. A frozen or blank image has
 * no temporal variance, so the caller offers frames only while live and the last area stays.
 */
export class AutoImageArea {
  private area: Rect | null = null;
  private thread: Worker | null = null;
  private requestedS: number | null = null;
  private pendingId: number | null = null;
  private nextId = 1;
  private size: { width: number; height: number } | null = null;

  constructor(
    private readonly refreshSeconds: number,
    private readonly logger: Logger,
    private readonly onChange: (area: Rect) => void,
  ) {}

  get current(): Rect | null {
    return this.area;
  }

  start(): void {
    if (this.thread) return;
    const thread = new Worker(bootstrapSource(), { eval: true, name: 'bv-edge-image-area' });
    thread.on('message', (response: AreaResponse) => this.onResponse(response));
    thread.on('error', (error) => this.logger.error({ err: error }, 'image area thread failed'));
    thread.on('exit', () => {
      if (this.thread === thread) this.thread = null;
      this.pendingId = null;
    });
    // The thread must not keep a stopping daemon alive.
    thread.unref();
    this.thread = thread;
  }

  async stop(): Promise<void> {
    const thread = this.thread;
    this.thread = null;
    this.pendingId = null;
    await thread?.terminate();
  }

  /**
   * Sends the recent frames (oldest first, from `recentFrames`) to the thread when a computation
   * is due and none is running. A change of frame size discards the old area.
   */
  offer(latest: TimedFrame, recentFrames: () => readonly TimedFrame[]): void {
    if (!this.thread) return;
    const { width, height } = latest.frame;
    if (this.size === null || this.size.width !== width || this.size.height !== height) {
      this.size = { width, height };
      this.area = null;
      this.requestedS = null;
    }
    if (this.pendingId !== null) return;
    const nowS = latest.timestampS;
    if (this.requestedS !== null && nowS - this.requestedS < this.refreshSeconds) return;
    const frames = recentFrames();
    const last = frames[frames.length - 1]!;
    const sameSize = frames.filter((f) => f.frame.width === width && f.frame.height === height);
    if (sameSize.length < MIN_FRAMES) return;
    if (last.timestampS - sameSize[0]!.timestampS < MIN_SPAN_S) return;
    this.requestedS = nowS;
    this.post(sampleEvenly(sameSize, SAMPLE_FRAMES), width, height);
  }

  private post(frames: TimedFrame[], width: number, height: number): void {
    // Copies, because the ring buffer and the subscribers keep the originals.
    const copies = frames.map((f) => f.frame.data.slice());
    const request: AreaRequest = {
      id: this.nextId++,
      clip: {
        source: 'live capture',
        width,
        height,
        channels: 1,
        fps: 0,
        frames: copies.map((data) => ({ width, height, channels: 1, data })),
        timestampsS: frames.map((f) => f.timestampS),
      },
    };
    this.pendingId = request.id;
    this.thread!.postMessage(
      request,
      copies.map((data) => data.buffer as ArrayBuffer),
    );
  }

  private onResponse(response: AreaResponse): void {
    if (response.id !== this.pendingId) return;
    this.pendingId = null;
    if (response.error !== null || response.area === null) {
      this.logger.warn({ reason: response.error }, 'automatic image area failed');
      return;
    }
    if (sameRect(this.area, response.area)) return;
    this.area = response.area;
    this.onChange(response.area);
  }
}

function sampleEvenly(frames: readonly TimedFrame[], count: number): TimedFrame[] {
  if (frames.length <= count) return [...frames];
  const step = frames.length / count;
  return Array.from({ length: count }, (_, i) => frames[Math.floor(i * step)]!);
}

function sameRect(a: Rect | null, b: Rect | null): boolean {
  return (
    a !== null &&
    b !== null &&
    a.x === b.x &&
    a.y === b.y &&
    a.width === b.width &&
    a.height === b.height
  );
}
