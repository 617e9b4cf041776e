/**
 * Capture benchmark. Prints figures and checks nothing:
 *   1. frame transport from a child process at 640x480 grey: IPC messages with Node's advanced
 *      serialisation against the framed pipe that the capture process uses, frames per second
 *      and CPU time of the receiving process per frame;
 *   2. the capture service decoding a clip as fast as it can, against gst-launch-1.0 running the
 *      same pipeline into fakesink: frames per second and their ratio, CPU time per frame;
 *   3. resident memory of the capture process and of this process at the end of each loop of
 *      the clip, and its growth from the first loop to the last.
 *
 *   node --import tsx bench/capture.ts [--clip FILE] [--loops N] [--real-time]
 *                                      [--transport-frames N]
 *
 * The default clip is artery/tibial-duplex-126s.mov of the real clips (3777 frames of 640x480
 * at 29.97 fps), or a phantom clip when they are absent. --loops 5 gives the five loops for the
 * memory figure; the default of 2 keeps a run short. --real-time plays the clip at its frame
 * rate, as a cart does, for memory runs of hours; gst-launch-1.0 then runs with sync=true.
 */
import { spawn, fork } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Socket } from 'node:net';
import { CaptureService } from '../src/capture/service.ts';
import { buildWorkerPlan, gstLaunchDescription } from '../src/capture/pipeline.ts';
import { encodeFrameHeader, FrameReader } from '../src/capture/wire.ts';
import { loadConfig } from '../src/config/index.ts';
import { silentLogger } from '../src/core/log.ts';
import { ensurePhantomClips } from '../src/phantom/index.ts';
import { isMainModule } from './main-module.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const ultrasoundDir =
  process.env.BV_EDGE_ULTRASOUND_DIR ?? resolve(repoRoot, '../shared/data/ultrasound');
const TRANSPORT_WIDTH = 640;
const TRANSPORT_HEIGHT = 480;
const SELF = fileURLToPath(import.meta.url);
const TSX_LOADER = import.meta.resolve('tsx');
/** Limit for the loops of one capture measurement, ms; a stalled pipeline fails the figure. */
const LOOPS_TIMEOUT_MS = 600_000;

// --- 1. Transport -----------------------------------------------------------------------------

/** Sends `frames` frames of 640x480 as fast as they are accepted; runs in the child process. */
async function transportChild(mode: string, frames: number): Promise<void> {
  const pixels = Buffer.alloc(TRANSPORT_WIDTH * TRANSPORT_HEIGHT, 99);
  if (mode === 'ipc') {
    for (let i = 0; i < frames; i++) {
      // send() returns false when the channel backs up; waiting for its callback paces it.
      await new Promise<void>((done) => process.send!({ sequence: i, pixels }, () => done()));
    }
  } else {
    const out = new Socket({ fd: 3, readable: false, writable: true });
    for (let i = 0; i < frames; i++) {
      out.write(encodeFrameHeader(TRANSPORT_WIDTH, TRANSPORT_HEIGHT, i, i / 30));
      if (!out.write(pixels)) await once(out, 'drain');
    }
    await new Promise<void>((done) => out.end(done));
  }
  process.disconnect?.();
}

async function measureTransport(mode: 'ipc' | 'pipe', frames: number) {
  const child = fork(SELF, ['--transport-child', mode, '--transport-frames', String(frames)], {
    execArgv: ['--import', TSX_LOADER],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', mode === 'pipe' ? 'pipe' : 'ignore', 'ipc'],
  });
  let received = 0;
  let startMs = 0;
  let cpuStart = process.cpuUsage();
  const first = () => {
    if (received === 0) {
      startMs = performance.now();
      cpuStart = process.cpuUsage();
    }
  };
  const done = new Promise<void>((resolveDone) => {
    if (mode === 'ipc') {
      child.on('message', () => {
        first();
        if (++received === frames) resolveDone();
      });
    } else {
      const reader = new FrameReader();
      (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
        first();
        received += reader.push(chunk).length;
        if (received === frames) resolveDone();
      });
    }
  });
  await done;
  const seconds = (performance.now() - startMs) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  await once(child, 'exit');
  return { fps: received / seconds, cpuMsPerFrame: (cpu.user + cpu.system) / 1000 / received };
}

// --- 2 and 3. Capture service against gst-launch-1.0 ------------------------------------------

export interface LoopSample {
  loop: number;
  frames: number;
  seconds: number;
  workerRssMb: number;
  daemonRssMb: number;
}

/** Counts the frames of a service and notes the frame count and time at the end of each loop. */
class LoopRecorder {
  firstFrameMs = 0;
  cpuStart = process.cpuUsage();
  private frames = 0;
  /** Frames before each loop started again, from the first frame that saw the new loop count. */
  readonly loopEnds: { frames: number; ms: number }[] = [];

  constructor(private readonly service: CaptureService) {
    service.subscribe(() => this.onFrame());
  }

  private onFrame(): void {
    if (this.firstFrameMs === 0) {
      this.firstFrameMs = performance.now();
      this.cpuStart = process.cpuUsage();
    }
    if (this.service.status().loops > this.loopEnds.length) {
      this.loopEnds.push({ frames: this.frames, ms: performance.now() });
    }
    this.frames++;
  }
}

/** Polls the service until `loops` loops have ended; returns a sample per loop. */
async function sampleLoops(service: CaptureService, recorder: LoopRecorder, loops: number) {
  const samples: LoopSample[] = [];
  let workerCpuStartMicros = 0;
  const deadline = performance.now() + LOOPS_TIMEOUT_MS;
  while (samples.length < loops) {
    if (performance.now() > deadline) {
      throw new Error(
        `capture timed out after ${LOOPS_TIMEOUT_MS / 1000} s before ${loops} loop(s)`,
      );
    }
    await new Promise((done) => setTimeout(done, 50));
    const status = service.status();
    if (status.state === 'error') throw new Error(`capture failed: ${status.reason}`);
    if (workerCpuStartMicros === 0 && status.worker && status.framesReceived > 0) {
      workerCpuStartMicros = status.worker.cpuMicros;
    }
    const end = recorder.loopEnds[samples.length];
    if (!end || !status.worker) continue;
    samples.push({
      loop: samples.length + 1,
      frames: end.frames,
      seconds: (end.ms - recorder.firstFrameMs) / 1000,
      workerRssMb: status.worker.rssBytes / 2 ** 20,
      daemonRssMb: process.memoryUsage.rss() / 2 ** 20,
    });
  }
  return { samples, workerCpuStartMicros };
}

export async function measureCapture(path: string, loops: number, realTime: boolean) {
  const source = { kind: 'file' as const, path, loop: true, realTime };
  // Two seconds of ring buffer, so that memory at full decoding speed is not mostly frames.
  const config = loadConfig({ capture: { source, ringSeconds: 2 } }, { env: {} });
  const dataDir = mkdtempSync(join(tmpdir(), 'bv-edge-bench-'));
  const service = new CaptureService({
    capture: config.capture,
    dataDir,
    logger: silentLogger(),
  });
  const recorder = new LoopRecorder(service);
  let status: ReturnType<CaptureService['status']>;
  let samples: LoopSample[];
  let daemonCpu: NodeJS.CpuUsage;
  let workerCpuMicros: number;
  try {
    await service.start();
    const sampled = await sampleLoops(service, recorder, loops);
    samples = sampled.samples;
    status = service.status();
    daemonCpu = process.cpuUsage(recorder.cpuStart);
    workerCpuMicros = status.worker!.cpuMicros - sampled.workerCpuStartMicros;
  } finally {
    await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const plan = buildWorkerPlan(source, {
    queueFrames: config.capture.queueFrames,
    heartbeatMs: 500,
  });
  return {
    samples,
    frames: status.framesReceived,
    dropped: status.framesDropped,
    cpuMsPerFrame:
      (daemonCpu.user + daemonCpu.system + workerCpuMicros) / 1000 / status.framesReceived,
    launch: gstLaunchDescription(plan),
  };
}

/**
 * Runs gst-launch-1.0 once through bash, whose `times` builtin reports the child's CPU time.
 * Returns the whole wall time and gst-launch's own "Execution ended after" time, which runs from
 * PLAYING to end of stream and so leaves out process start-up and preroll, as the capture
 * service's figure (first frame to end of loop) does.
 */
export async function measureGstLaunch(launch: string) {
  const script = `gst-launch-1.0 ${launch} && times`;
  const started = performance.now();
  const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number];
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`gst-launch-1.0 exited with code ${code}`);
  // e.g. "Execution ended after 0:00:01.023456789" (hours:minutes:seconds).
  const ended = /Execution ended after (\d+):(\d+):([\d.]+)/.exec(output);
  if (!ended) throw new Error('gst-launch-1.0 printed no "Execution ended after" line');
  const playingSeconds = Number(ended[1]) * 3600 + Number(ended[2]) * 60 + Number(ended[3]);
  // The last line of `times` is the children's user and system time, e.g. "0m0.626s 0m0.195s".
  const childLine = output.trim().split('\n').at(-1) ?? '';
  const cpuSeconds = [...childLine.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
    (sum, match) => sum + Number(match[1]) * 60 + Number(match[2]),
    0,
  );
  return { seconds, playingSeconds, cpuSeconds };
}

export interface CaptureComparison {
  /** gst-launch description of the pipeline both ran. */
  launch: string;
  /** Frames the capture service counted in its first loop. */
  framesPerLoop: number;
  /** Capture service frame rate over the first loop, frames per second. */
  captureFps: number;
  /** gst-launch-1.0 into fakesink from PLAYING to end of stream, frames per second. */
  gstFps: number;
  /** CPU time of the capture process and this process per frame over all loops, ms. */
  captureCpuMsPerFrame: number;
  gstCpuMsPerFrame: number;
  dropped: number;
  samples: LoopSample[];
}

/**
 * Decodes `path` through the capture service for `loops` loops, then runs gst-launch-1.0 on the
 * same pipeline into fakesink once. `clipFrames` is the clip's frame count when the caller
 * knows it.
 */
export async function compareCaptureWithGstLaunch(
  path: string,
  loops: number,
  realTime = false,
  clipFrames?: number,
): Promise<CaptureComparison> {
  const capture = await measureCapture(path, loops, realTime);
  const firstLoop = capture.samples[0]!;
  const gst = await measureGstLaunch(capture.launch);
  // The first loop ends at the first frame that arrives after the loop event, so the frames
  // still in the queue and pipe at the end of the clip count towards loop 2. That count suits
  // the capture rate, which is timed to the same frame, but gst-launch-1.0 decodes every frame.
  // NOTE: without `clipFrames` the gst-launch rate is low by those few frames, which matters
  // only for clips of a few dozen frames.
  const gstFrames = clipFrames ?? firstLoop.frames;
  return {
    launch: capture.launch,
    framesPerLoop: firstLoop.frames,
    captureFps: firstLoop.frames / firstLoop.seconds,
    gstFps: gstFrames / gst.playingSeconds,
    captureCpuMsPerFrame: capture.cpuMsPerFrame,
    gstCpuMsPerFrame: (gst.cpuSeconds * 1000) / gstFrames,
    dropped: capture.dropped,
    samples: capture.samples,
  };
}

async function defaultClip(): Promise<string> {
  const real = join(ultrasoundDir, 'artery/tibial-duplex-126s.mov');
  if (existsSync(real)) return real;
  const clips = await ensurePhantomClips(join(repoRoot, 'var/phantom'));
  return clips.ivc.path;
}

function format(value: number, digits = 1): string {
  return value.toFixed(digits);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clip: { type: 'string' },
      loops: { type: 'string', default: '2' },
      'transport-frames': { type: 'string', default: '900' },
      'transport-child': { type: 'string' },
      'real-time': { type: 'boolean', default: false },
    },
  });
  const transportFrames = Number(values['transport-frames']);
  if (values['transport-child']) return transportChild(values['transport-child'], transportFrames);
  const loops = Number(values.loops);
  if (!Number.isInteger(loops) || loops < 1)
    throw new Error(`--loops ${values.loops}: expected 1 or more`);

  console.log(`1. Transport of ${transportFrames} frames of 640x480 grey from a child process`);
  const ipc = await measureTransport('ipc', transportFrames);
  const pipe = await measureTransport('pipe', transportFrames);
  for (const [name, result] of [
    ['IPC, advanced serialisation', ipc],
    ['framed pipe', pipe],
  ] as const) {
    console.log(
      `   ${name.padEnd(28)} ${format(result.fps, 0).padStart(6)} frames/s  ${format(result.cpuMsPerFrame, 3)} ms CPU/frame`,
    );
  }
  console.log(
    `   pipe / IPC frame rate: ${format(pipe.fps / ipc.fps, 2)}; 30 frames/s needs ${format((30 / pipe.fps) * 100, 1)} % of the pipe's rate`,
  );

  const clip = values.clip ?? (await defaultClip());
  const realTime = values['real-time'] === true;
  const pace = realTime ? 'at the clip frame rate' : 'at full decoding speed';
  console.log(`\n2. Capture of ${clip}, ${loops} loop(s) ${pace}`);
  const capture = await compareCaptureWithGstLaunch(clip, loops, realTime);
  console.log(`   gst-launch-1.0 ${capture.launch}`);
  console.log(
    `   gst-launch-1.0 into fakesink  ${format(capture.gstFps, 0).padStart(6)} frames/s  ${format(capture.gstCpuMsPerFrame, 3)} ms CPU/frame`,
  );
  console.log(
    `   capture service (loop 1)      ${format(capture.captureFps, 0).padStart(6)} frames/s  ${format(capture.captureCpuMsPerFrame, 3)} ms CPU/frame (capture process and daemon, all loops)`,
  );
  console.log(
    `   capture / gst-launch frame rate: ${format(capture.captureFps / capture.gstFps, 2)}; frames dropped: ${capture.dropped}`,
  );
  const firstLoop = capture.samples[0]!;

  console.log(`\n3. Resident memory at the end of each loop, MiB`);
  console.log('   loop  frames   capture process  daemon');
  for (const sample of capture.samples) {
    console.log(
      `   ${String(sample.loop).padStart(4)}  ${String(sample.frames).padStart(6)}  ${format(sample.workerRssMb).padStart(15)}  ${format(sample.daemonRssMb).padStart(6)}`,
    );
  }
  const last = capture.samples[capture.samples.length - 1]!;
  const growth = (now: number, then: number) => format(((now - then) / then) * 100, 1);
  console.log(
    `   growth from loop 1 to loop ${last.loop}: capture process ${growth(last.workerRssMb, firstLoop.workerRssMb)} %, daemon ${growth(last.daemonRssMb, firstLoop.daemonRssMb)} %`,
  );
}

if (isMainModule(import.meta.url)) await main();
