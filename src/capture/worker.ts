/**
 * The capture process: runs one GStreamer pipeline through gstreamer-superficial and writes its
 * frames to file descriptor 3, with control messages on the IPC channel. The daemon forks it
 * through CaptureSupervisor, so that a native hang or crash ends this process only.
 */
import { Socket } from 'node:net';
import type { Notice } from '../core/notice.ts';
import { notice } from '../notices/index.ts';
import { monotonicSeconds } from './clock.ts';
import { FrameQueue, type QueuedFrame } from './frame-queue.ts';
import { checkSource, fileIdentity, sameFile, type FileIdentity } from './source-checks.ts';
import { GstRunner } from './gst-runner.ts';
import { encodeFrameHeader } from './wire.ts';
import {
  EXIT_RECYCLE,
  type WorkerMessage,
  type WorkerPlan,
  type WorkerStats,
} from './worker-protocol.ts';

/**
 * Pipelines one process builds before it exits to be replaced. Each gstreamer-superficial 1.7.4
 * Pipeline leaks about 1 MiB, and a looped file needs a new one only when the file is replaced.
 */
const MAX_PIPELINES = 20;

/**
 * Growth of resident memory since the first loop after which this process exits to be replaced,
 * at a loop boundary so that no recording is cut. A looped 126 s clip grew the capture process by
 * about 0.45 MiB a loop over 45 loops, so a file source reaches this limit after about a day.
 */
const MAX_RSS_GROWTH_BYTES = 64 * 2 ** 20;

const plan = JSON.parse(process.argv[2] ?? '{}') as WorkerPlan;
const frameOut = new Socket({ fd: 3, readable: false, writable: true });
const queue = new FrameQueue(plan.queueFrames, plan.realTime);
const stats: WorkerStats = {
  pulled: 0,
  sent: 0,
  dropped: 0,
  sinkDropped: 0,
  rssBytes: 0,
  cpuMicros: 0,
};
let runner: GstRunner | null = null;
let pipelines = 0;
let loops = 0;
let sequence = 0;
let identity: FileIdentity | null = null;
/** Resident memory at the end of the first loop, the baseline of MAX_RSS_GROWTH_BYTES. */
let firstLoopRssBytes: number | null = null;
let finishing = false;
let waitingForDrain = false;

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

function currentStats(): WorkerStats {
  const cpu = process.cpuUsage();
  stats.rssBytes = process.memoryUsage.rss();
  stats.cpuMicros = cpu.user + cpu.system;
  stats.sinkDropped = runner?.sinkDropped() ?? stats.sinkDropped;
  return { ...stats };
}

/** Stops the pipeline and exits once the last IPC message is out. */
function finish(code: number, message?: WorkerMessage): void {
  if (finishing) return;
  finishing = true;
  runner?.stop();
  const exit = (): never => process.exit(code);
  if (message && process.connected) process.send?.(message, exit);
  else exit();
}

function fail(code: string, reason: Notice): void {
  finish(1, { type: 'error', code, notice: reason, stats: currentStats() });
}

function startPipeline(): void {
  if (pipelines >= MAX_PIPELINES) return finish(EXIT_RECYCLE);
  pipelines++;
  runner?.stop();
  try {
    runner = GstRunner.create(plan, {
      onFrame: receiveFrame,
      onCaps: (width, height, framerate) => send({ type: 'caps', width, height, framerate }),
      onEnd: endOfStream,
      onError: (message) =>
        fail('pipeline_error', notice('notice.capture.pipelineError', { detail: message })),
      onWarning: (message) => send({ type: 'warning', message }),
    });
  } catch (cause) {
    const detail = (cause as Error).message;
    return fail(
      'pipeline_invalid',
      notice('notice.capture.pipelineInvalid', { launch: plan.launch, detail }),
    );
  }
  runner.play();
  send({ type: 'playing' });
  requestSample();
}

function requestSample(): void {
  if (finishing || !runner || !queue.accepting) return;
  runner.pull();
}

function receiveFrame(data: Uint8Array, width: number, height: number): void {
  stats.pulled++;
  const frame: QueuedFrame = {
    data,
    width,
    height,
    timestampS: monotonicSeconds(),
    sequence: sequence++,
  };
  if (queue.push(frame)) stats.dropped++;
  flush();
  requestSample();
}

/** Writes queued frames while the pipe takes them, then waits for it to drain. */
function flush(): void {
  while (queue.length > 0 && frameOut.writableLength === 0) {
    const frame = queue.shift()!;
    frameOut.write(encodeFrameHeader(frame.width, frame.height, frame.sequence, frame.timestampS));
    frameOut.write(frame.data);
    stats.sent++;
  }
  if (queue.length > 0 || frameOut.writableLength > 0) {
    if (!waitingForDrain) {
      waitingForDrain = true;
      frameOut.once('drain', () => {
        waitingForDrain = false;
        flush();
        requestSample();
      });
    }
  }
}

/**
 * Handles the end of the stream: a file that does not loop has ended, a looped file starts again,
 * and a live source that ends has failed, so the supervisor restarts it.
 */
function endOfStream(): void {
  if (finishing) return;
  if (plan.file === null) {
    return fail('capture_stream_ended', notice('notice.capture.streamEnded'));
  }
  if (!plan.loop) return finish(0, { type: 'end-of-stream', stats: currentStats() });
  const current = fileIdentity(plan.file);
  if (current === null) {
    return fail(
      'capture_file_not_found',
      notice('notice.capture.fileRemoved', { path: plan.file }),
    );
  }
  loops++;
  send({ type: 'loop', count: loops });
  const rss = process.memoryUsage.rss();
  firstLoopRssBytes ??= rss;
  if (rss - firstLoopRssBytes > maxRssGrowthBytes()) return finish(EXIT_RECYCLE);
  // A replaced file needs a new pipeline, because decodebin cannot switch files by a seek.
  if (!sameFile(identity, current)) {
    identity = current;
    return startPipeline();
  }
  if (!runner!.rewind()) return startPipeline();
  requestSample();
}

/** MAX_RSS_GROWTH_BYTES, or BV_EDGE_CAPTURE_MAX_RSS_GROWTH_MB for tests of the recycling. */
function maxRssGrowthBytes(): number {
  const text = process.env.BV_EDGE_CAPTURE_MAX_RSS_GROWTH_MB;
  const override = text === undefined || text === '' ? NaN : Number(text);
  return Number.isFinite(override) && override >= 0 ? override * 2 ** 20 : MAX_RSS_GROWTH_BYTES;
}

function main(): void {
  const problem = checkSource(plan);
  if (problem) return fail(problem.code, problem.notice);
  if (plan.file !== null) identity = fileIdentity(plan.file);
  setInterval(() => send({ type: 'heartbeat', stats: currentStats() }), plan.heartbeatMs);
  process.on('SIGTERM', () => finish(0));
  process.on('disconnect', () => finish(0));
  process.on('uncaughtException', (error) =>
    fail(
      'capture_process_failed',
      notice('notice.capture.processFailed', { detail: error.message }),
    ),
  );
  frameOut.on('error', () => finish(0));
  startPipeline();
}

main();
