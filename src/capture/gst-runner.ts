import {
  gstreamer,
  stopPipeline,
  type GstAppSink,
  type GstBusMessage,
  type GstCaps,
  type GstPipeline,
} from './gst.ts';
import type { WorkerPlan } from './worker-protocol.ts';

export interface GstRunnerEvents {
  /** A frame with its rows packed, width × height bytes. */
  onFrame(data: Uint8Array, width: number, height: number): void;
  onCaps(width: number, height: number, framerate: string | null): void;
  /** The appsink returned no sample: the end of the stream, or a pipeline that failed. */
  onEnd(): void;
  onError(message: string): void;
  onWarning(message: string): void;
}

/** GstPipeline.seek flag GST_SEEK_FLAG_FLUSH, which empties the pipeline before it seeks. */
const SEEK_FLUSH = 1;
/**
 * Wait for the bus after the appsink returns no sample, ms. An end-of-stream message confirms the
 * end at once; an error message instead marks a failed pipeline, and can arrive a little later.
 */
const END_GRACE_MS = 150;

/**
 * One gstreamer-superficial pipeline that pulls frames one at a time. Each pending pull occupies a
 * libuv threadpool thread, so at most one is pending, and the bus poll occupies another.
 * NOTE: decoding a 640x480 file at full speed, the whole capture path reached 700–900 frames/s
 * against 2500–3500 for gst-launch-1.0 into fakesink (bench/capture.ts on a 2-core machine).
 * Live sources need 30 to 60; whether two pending pulls would close the gap is untested.
 */
export class GstRunner {
  private width = 0;
  private height = 0;
  private pulling = false;
  private stopped = false;
  /** Set at the end of the stream, so that no pull starts until a rewind. */
  private ended = false;
  private eosSeen = false;
  private endTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly pipeline: GstPipeline,
    private readonly sink: GstAppSink,
    private readonly events: GstRunnerEvents,
  ) {}

  /** Parses the plan's pipeline and sets its properties; throws when GStreamer rejects it. */
  static create(plan: WorkerPlan, events: GstRunnerEvents): GstRunner {
    const pipeline = new (gstreamer().Pipeline)(plan.launch);
    for (const property of plan.properties) {
      const element = pipeline.findChild(property.element) as Record<string, unknown> | undefined;
      if (!element) throw new Error(`no element named ${property.element}`);
      element[property.name] = property.value;
    }
    const sink = pipeline.findChild('sink') as GstAppSink | undefined;
    if (!sink) throw new Error('no appsink named sink');
    const runner = new GstRunner(pipeline, sink, events);
    pipeline.pollBus((message) => runner.onBusMessage(message));
    return runner;
  }

  play(): void {
    this.pipeline.play();
  }

  /** Starts one pull unless one is pending or the stream has ended. */
  pull(): void {
    if (this.pulling || this.stopped || this.ended) return;
    this.pulling = true;
    this.sink.pull((buffer, caps) => this.onSample(buffer, caps));
  }

  /** Seeks back to the start after the end of a file; returns false when the seek failed. */
  rewind(): boolean {
    this.ended = false;
    this.eosSeen = false;
    return this.pipeline.seek(0, SEEK_FLUSH);
  }

  /** Stops the pipeline; a pending pull then returns with no sample. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.endTimer) clearTimeout(this.endTimer);
    stopPipeline(this.pipeline);
  }

  /** Buffers that the appsink dropped as late, from its `stats` structure. */
  sinkDropped(): number {
    const match = /dropped=\(guint64\)(\d+)/.exec(String(this.sink.stats ?? ''));
    return match ? Number(match[1]) : 0;
  }

  private onSample(buffer: Buffer | null | undefined, caps: GstCaps | undefined): void {
    this.pulling = false;
    if (this.stopped) return;
    if (caps?.width !== undefined && caps.height !== undefined) this.readCaps(caps);
    if (!buffer) {
      // The first callbacks may carry caps alone; no buffer and no caps is the end.
      if (caps && Object.keys(caps).length > 0) return this.pull();
      this.ended = true;
      if (this.eosSeen) return this.events.onEnd();
      this.endTimer = setTimeout(() => this.confirmEnd(), END_GRACE_MS);
      return;
    }
    if (this.width === 0) return this.pull();
    this.events.onFrame(packRows(buffer, this.width, this.height), this.width, this.height);
  }

  private confirmEnd(): void {
    if (this.endTimer) clearTimeout(this.endTimer);
    this.endTimer = null;
    if (!this.stopped) this.events.onEnd();
  }

  private readCaps(caps: GstCaps): void {
    if (caps.width === this.width && caps.height === this.height) return;
    this.width = caps.width!;
    this.height = caps.height!;
    this.events.onCaps(this.width, this.height, caps.framerate ?? null);
  }

  private onBusMessage(message: GstBusMessage): void {
    if (this.stopped) return;
    if (message.type === 'eos') {
      this.eosSeen = true;
      if (this.endTimer) this.confirmEnd();
      return;
    }
    const element = message._src_element_name ?? 'pipeline';
    const text = `${trimPeriod(message.message ?? 'GStreamer error')} (element ${element})`;
    if (message.type === 'error') this.events.onError(text);
    else if (message.type === 'warning') this.events.onWarning(text);
  }
}

function trimPeriod(text: string): string {
  return text.endsWith('.') ? text.slice(0, -1) : text;
}

/**
 * Removes the row padding of a GRAY8 buffer: GStreamer pads each row to a multiple of 4 bytes,
 * so a 562-pixel-wide frame arrives with 564-byte rows.
 */
export function packRows(buffer: Buffer, width: number, height: number): Uint8Array {
  const stride = Math.ceil(width / 4) * 4;
  if (buffer.length < stride * (height - 1) + width) {
    throw new Error(`appsink returned ${buffer.length} bytes for a ${width}x${height} frame`);
  }
  const view = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
  if (stride === width) return view.subarray(0, width * height);
  const packed = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    packed.set(view.subarray(y * stride, y * stride + width), y * width);
  }
  return packed;
}
