import { join } from 'node:path';
import type { CaptureConfig } from '../config/index.ts';
import type { CaptureState, FrameSource, TimedFrame } from '../core/frames.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { GrayFrame, Rect, ViewName } from '../core/image.ts';
import { subsystemLogger, type Logger } from '../core/log.ts';
import type { Notice } from '../core/notice.ts';
import { notice } from '../notices/index.ts';
import { AutoImageArea } from './area-tracker.ts';
import { monotonicSeconds } from './clock.ts';
import { FpsMeter } from './fps-meter.ts';
import { FrameRing } from './frame-ring.ts';
import { preparePhantomClips } from './phantom-clips.ts';
import { chooseImageArea } from './image-area.ts';
import { buildWorkerPlan, type ResolvedSource } from './pipeline.ts';
import { SignalMonitor, type SignalCondition } from './signal-monitor.ts';
import { explainCaptureFailure, type FailedSource } from './source-checks.ts';
import { CaptureSupervisor, type SupervisorEvent } from './supervisor.ts';
import type { WorkerStats } from './worker-protocol.ts';

/** Interval between heartbeats of the capture process, ms; the watchdog allows several. */
const HEARTBEAT_MS = 500;
/** Interval of the no-signal check, ms. */
const TICK_MS = 200;
/** Maximum wait for the next phantom clip to play after a switch, ms. */
const CLIP_SWITCH_TIMEOUT_MS = 15_000;
/** A failing listener is logged once per this many failures, about 10 s of frames at 30 fps. */
const LISTENER_LOG_EVERY = 300;

export interface CaptureServiceOptions {
  capture: CaptureConfig;
  /** Data folder; the phantom source generates its clips under dataDir/phantom. */
  dataDir: string;
  logger: Logger;
}

/** A snapshot of the capture service for the status page, logs and tests. */
export interface CaptureStatus {
  state: CaptureState;
  /** Reason for a state other than live, in English; null when live. */
  reason: string | null;
  /** The same reason as a notice, for the page to show in its language; null when live. */
  reasonNotice: Notice | null;
  /** Measured frame rate, frames per second. */
  fps: number;
  frameSize: { width: number; height: number } | null;
  framesReceived: number;
  /** Frames dropped since start() because the daemon fell behind. */
  framesDropped: number;
  /** Capture processes started after the first. */
  restarts: number;
  /** Times a looped file started again from its beginning, in the current capture process. */
  loops: number;
  imageArea: Rect | null;
  imageAreaSource: 'config' | 'automatic' | null;
  workerPid: number | null;
  /** Resident memory and CPU time of the capture process, from its last heartbeat. */
  worker: WorkerStats | null;
  /** View whose clip the phantom source plays, or null for every other source. */
  phantomView: ViewName | null;
}

/**
 * Live capture from the configured source: one GStreamer pipeline in a supervised child process,
 * frames into a ring buffer of the last seconds, the measured frame rate, the signal state
 * (no-signal, frozen, blank or live) and the ultrasound image area. The constructor does no
 * work; `start()` starts the capture process and `stop()` ends it.
 */
export class CaptureService implements FrameSource {
  private supervisor: CaptureSupervisor | null = null;
  private currentState: CaptureState = 'stopped';
  private currentReason: Notice | null = notice('notice.capture.notStarted');
  private readonly frameListeners = new Set<(frame: TimedFrame) => void>();
  private readonly stateListeners = new Set<(state: CaptureState) => void>();
  private readonly ring: FrameRing;
  private readonly meter = new FpsMeter();
  private readonly monitor: SignalMonitor;
  private readonly autoArea: AutoImageArea;
  private tick: NodeJS.Timeout | null = null;
  private lastFrameS: number | null = null;
  /** When the current capture process started playing, or null before it does. */
  private playingS: number | null = null;
  private frameSize: { width: number; height: number } | null = null;
  private framesReceived = 0;
  private loops = 0;
  private workerStats: WorkerStats | null = null;
  private workerPid: number | null = null;
  /** Frames that capture processes before the current one dropped. */
  private droppedEarlier = 0;
  private sourceEnded = false;
  private readonly logger: Logger;
  private warnedAreaOutside = false;
  /** View whose clip the phantom source plays in follow mode, from the first view on. */
  private followedView: ViewName = 'ijv';
  private starting = false;
  private listenerFailures = 0;
  /** Message of the last failure to prepare the phantom clips, logged once until they work. */
  private loggedClipFailure: string | null = null;
  /** The file capture reads, for failure reasons; set by start(). */
  private failedSource: FailedSource = { file: null, phantom: false };

  constructor(private readonly options: CaptureServiceOptions) {
    const { capture } = options;
    this.logger = subsystemLogger(options.logger, 'capture');
    this.ring = new FrameRing(capture.ringSeconds, capture.ringMaxMegabytes * 1024 * 1024);
    this.monitor = new SignalMonitor(capture);
    this.autoArea = new AutoImageArea(capture.imageAreaRefreshSeconds, this.logger, (area) =>
      this.logger.info({ imageArea: area }, 'automatic image area updated'),
    );
  }

  /**
   * Starts the capture process. Resolves once it is forked, before the first frame; the state is
   * `starting` until frames arrive. Rejects with `source_not_live`, and sets the state to error
   * with the reason, when the phantom source cannot read or generate its clips.
   */
  async start(): Promise<void> {
    if (this.supervisor || this.starting) return;
    this.starting = true;
    let source: ResolvedSource;
    try {
      source = await this.resolveSource();
    } catch (error) {
      this.onClipFailure(error);
      throw error;
    } finally {
      this.starting = false;
    }
    this.resetRun();
    this.failedSource = {
      file: source.kind === 'file' ? source.path : null,
      phantom: this.options.capture.source.kind === 'phantom',
    };
    const plan = buildWorkerPlan(source, {
      queueFrames: this.options.capture.queueFrames,
      heartbeatMs: HEARTBEAT_MS,
    });
    const { capture } = this.options;
    this.supervisor = new CaptureSupervisor({
      plan,
      restart: capture.restart,
      watchdogMs: capture.watchdogSeconds * 1000,
      stallMs: capture.stallSeconds * 1000,
      logger: this.logger,
      onFrame: (frame) => this.onFrame(frame),
      onEvent: (event) => this.onSupervisorEvent(event),
    });
    this.setState('starting', notice('notice.capture.waitingForFrame'));
    this.logger.info(
      { source: describeSource(capture.source), pipeline: plan.launch },
      'capture starting',
    );
    if (capture.imageArea === null) this.autoArea.start();
    this.supervisor.start();
    this.tick = setInterval(() => this.checkSignal(), TICK_MS);
  }

  /**
   * With the phantom source in follow mode, switches to the clip of `view` by restarting capture
   * on it, and resolves once it is live. Any other source already shows the view the operator
   * scans, so this returns at once. Throws `source_not_live` when the clip cannot be read or
   * generated, or does not play in time.
   */
  async prepareView(view: ViewName): Promise<void> {
    const source = this.options.capture.source;
    if (source.kind !== 'phantom' || source.view !== 'follow') return;
    if (view === this.followedView && this.supervisor) return;
    this.followedView = view;
    this.logger.info({ view }, 'phantom source switching to the clip of the view');
    await this.stop();
    await this.start();
    // Frames arrive in I/O callbacks, so the state cannot have become live before this line.
    if (await this.waitForState('live', CLIP_SWITCH_TIMEOUT_MS)) return;
    const params = { view, seconds: CLIP_SWITCH_TIMEOUT_MS / 1000, state: this.currentState };
    throw new BvEdgeError('source_not_live', notice('notice.capture.clipSwitchTimeout', params), {
      value: this.currentState,
    });
  }

  /** Resolves true once the state becomes `expected`, or false after `timeoutMs`. */
  private waitForState(expected: CaptureState, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const unsubscribe = this.onStateChange((state) => {
        if (state === expected) finish(true);
      });
      function finish(reached: boolean) {
        clearTimeout(timer);
        unsubscribe();
        resolve(reached);
      }
    });
  }

  /** Stops the capture process and waits until it has exited. */
  async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    const supervisor = this.supervisor;
    this.supervisor = null;
    await supervisor?.stop();
    await this.autoArea.stop();
    this.ring.clear();
    this.meter.reset();
    this.setState('stopped', notice('notice.capture.stopped'));
  }

  get state(): CaptureState {
    return this.currentState;
  }

  /** Reason for a state other than live, in English; null when live. */
  get reason(): string | null {
    return this.currentReason?.text ?? null;
  }

  /** Reason for a state other than live, as a notice; null when live. */
  get reasonNotice(): Notice | null {
    return this.currentReason;
  }

  get fps(): number {
    return this.meter.fps(monotonicSeconds());
  }

  imageArea(): Rect | null {
    const area = chooseImageArea(
      this.options.capture.imageArea,
      this.autoArea.current,
      this.frameSize,
    );
    if (area === null && this.options.capture.imageArea !== null && !this.warnedAreaOutside) {
      this.warnedAreaOutside = true;
      this.logger.warn(
        { imageArea: this.options.capture.imageArea, frameSize: this.frameSize },
        'capture.imageArea lies outside the frame; fix it or set it to null',
      );
    }
    return area;
  }

  subscribe(listener: (frame: TimedFrame) => void): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  onStateChange(listener: (state: CaptureState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Frames of the last `seconds` (all that the ring buffer holds when left out), oldest first. */
  recentFrames(seconds?: number): TimedFrame[] {
    if (seconds === undefined) return this.ring.since();
    const latest = this.ring.latest();
    return latest ? this.ring.since(latest.timestampS - seconds) : [];
  }

  status(): CaptureStatus {
    const area = this.imageArea();
    let areaSource: CaptureStatus['imageAreaSource'] = null;
    if (area !== null)
      areaSource = this.options.capture.imageArea !== null ? 'config' : 'automatic';
    return {
      state: this.currentState,
      reason: this.reason,
      reasonNotice: this.currentReason,
      fps: this.fps,
      frameSize: this.frameSize,
      framesReceived: this.framesReceived,
      framesDropped: this.droppedEarlier + droppedBy(this.workerStats),
      restarts: this.supervisor?.restarts ?? 0,
      loops: this.loops,
      imageArea: area,
      imageAreaSource: areaSource,
      workerPid: this.supervisor?.pid ?? null,
      worker: this.workerStats,
      phantomView: this.phantomView(),
    };
  }

  private phantomView(): ViewName | null {
    const source = this.options.capture.source;
    if (source.kind !== 'phantom') return null;
    return source.view === 'follow' ? this.followedView : source.view;
  }

  /** Forgets what the previous run saw, so that a service started again begins afresh. */
  private resetRun(): void {
    this.playingS = null;
    this.lastFrameS = null;
    this.frameSize = null;
    this.framesReceived = 0;
    this.loops = 0;
    this.workerStats = null;
    this.workerPid = null;
    this.droppedEarlier = 0;
    this.sourceEnded = false;
    this.monitor.reset();
  }

  private async resolveSource(): Promise<ResolvedSource> {
    const source = this.options.capture.source;
    if (source.kind !== 'phantom') return source;
    const clips = await preparePhantomClips(join(this.options.dataDir, 'phantom'), this.logger);
    this.loggedClipFailure = null;
    return {
      kind: 'file',
      path: clips[this.phantomView() ?? this.followedView].path,
      loop: source.loop,
      realTime: source.realTime,
    };
  }

  private onFrame(timed: TimedFrame): void {
    const { frame, timestampS } = timed;
    this.framesReceived++;
    this.lastFrameS = timestampS;
    this.frameSize = { width: frame.width, height: frame.height };
    this.ring.push(timed);
    this.meter.record(timestampS);
    const condition = this.monitor.observe(frame as GrayFrame, timestampS, this.imageArea());
    this.setState(condition, describeCondition(condition, this.options.capture.frozenSeconds));
    if (condition === 'live') this.autoArea.offer(timed, () => this.ring.since());
    for (const listener of this.frameListeners) {
      this.callListener(() => listener(timed), 'frame listener failed');
    }
  }

  private onSupervisorEvent(event: SupervisorEvent): void {
    switch (event.type) {
      case 'playing':
        this.playingS = monotonicSeconds();
        this.sourceEnded = false;
        if (event.pid !== this.workerPid) this.onNewProcess(event.pid);
        this.logger.debug({ pid: event.pid }, 'capture pipeline playing');
        return;
      case 'caps':
        this.logger.info(
          { width: event.width, height: event.height, framerate: event.framerate },
          'capture format',
        );
        return;
      case 'loop':
        this.loops = event.count;
        return;
      case 'stats':
        this.workerStats = event.stats;
        return;
      case 'ended':
        this.sourceEnded = true;
        return;
      case 'failed':
        return this.onFailure(event);
    }
  }

  /** Shows why the phantom clips failed in the state, and logs a new failure once. */
  private onClipFailure(error: unknown): void {
    const reason = error instanceof BvEdgeError ? error.notice : undefined;
    if (reason === undefined) return;
    this.setState('error', reason);
    // setState ignores a second error, but this failure may name another clip.
    this.currentReason = reason;
    if (this.loggedClipFailure === reason.text) return;
    this.loggedClipFailure = reason.text;
    this.logger.error(
      { path: (error as BvEdgeError).value, err: (error as BvEdgeError).cause },
      'phantom clip cannot be used; remove it and bv-edge generates it again',
    );
  }

  /** Carries the counters of the previous capture process over to the new one. */
  private onNewProcess(pid: number): void {
    this.droppedEarlier += droppedBy(this.workerStats);
    this.workerStats = null;
    this.workerPid = pid;
    this.loops = 0;
  }

  private onFailure(event: Extract<SupervisorEvent, { type: 'failed' }>): void {
    this.monitor.reset();
    this.logger.warn(
      { code: event.code, reason: event.reason, retryInMs: event.retryInMs },
      'capture failed; restarting after the backoff',
    );
    // A stall is a lost signal, which the no-signal check reports; the restart is routine.
    if (event.stalled) return;
    this.setState('error', explainCaptureFailure(event, this.failedSource));
  }

  /**
   * Reports no-signal once no frame has arrived for capture.noSignalSeconds while a pipeline
   * plays. Before the first pipeline plays the state stays starting, and the supervisor's start
   * timeout turns a process that never plays into an error.
   */
  private checkSignal(): void {
    if (this.currentState === 'error' || this.currentState === 'stopped') return;
    if (this.playingS === null) return;
    const seconds = this.options.capture.noSignalSeconds;
    const since = Math.max(this.lastFrameS ?? -Infinity, this.playingS);
    if (monotonicSeconds() - since < seconds) return;
    const reason = this.sourceEnded
      ? notice('notice.capture.fileEnded')
      : notice('notice.capture.noFrame', { seconds });
    this.setState('no-signal', reason);
  }

  /** Changes the state, logs the change once and calls the listeners; the same state again is no change. */
  private setState(state: CaptureState, reason: Notice | null): void {
    if (state === this.currentState) return;
    const previous = this.currentState;
    this.currentState = state;
    this.currentReason = state === 'live' ? null : reason;
    const fields = { state, previous, reason: this.reason };
    const degraded =
      state === 'error' || state === 'no-signal' || state === 'frozen' || state === 'blank';
    if (degraded) this.logger.warn(fields, `capture state ${state}`);
    else this.logger.info(fields, `capture state ${state}`);
    for (const listener of this.stateListeners) {
      this.callListener(() => listener(state), 'capture state listener failed');
    }
  }

  /**
   * Runs a listener so that its exception is logged instead of stopping capture. A listener that
   * fails on every frame is logged on its first failure and then once per 300.
   */
  private callListener(call: () => void, message: string): void {
    try {
      call();
    } catch (error) {
      this.listenerFailures++;
      if (this.listenerFailures % LISTENER_LOG_EVERY === 1) {
        this.logger.error({ err: error, failures: this.listenerFailures }, message);
      }
    }
  }
}

function droppedBy(stats: WorkerStats | null): number {
  return stats === null ? 0 : stats.dropped + stats.sinkDropped;
}

function describeCondition(condition: SignalCondition, frozenSeconds: number): Notice | null {
  if (condition === 'frozen') return notice('notice.capture.frozen', { seconds: frozenSeconds });
  if (condition === 'blank') return notice('notice.capture.blank');
  return null;
}

/** Returns the source for logs, without the user name and password of a stream URL. */
function describeSource(source: CaptureConfig['source']): Record<string, unknown> {
  if (source.kind !== 'rtsp') return { ...source };
  return { ...source, url: source.url.replace(/\/\/[^/@]*@/, '//[redacted]@') };
}
