import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { Backoff } from '../src/capture/backoff.ts';
import { decodeClip } from '../src/capture/decode.ts';
import { FpsMeter } from '../src/capture/fps-meter.ts';
import { FrameQueue } from '../src/capture/frame-queue.ts';
import { FrameRing } from '../src/capture/frame-ring.ts';
import { cropToImageArea } from '../src/capture/crop.ts';
import { chooseImageArea, detectImageArea } from '../src/capture/image-area.ts';
import { buildWorkerPlan, gstLaunchDescription } from '../src/capture/pipeline.ts';
import { CaptureService, type CaptureStatus } from '../src/capture/service.ts';
import { SignalMonitor } from '../src/capture/signal-monitor.ts';
import { explainCaptureFailure } from '../src/capture/source-checks.ts';
import { encodeFrameHeader, FrameReader } from '../src/capture/wire.ts';
import { loadConfig, type CaptureSourceInput, type ConfigInput } from '../src/config/index.ts';
import type { CaptureState } from '../src/core/frames.ts';
import type { GrayFrame, Rect } from '../src/core/image.ts';
import { BvEdgeError } from '../src/core/errors.ts';
import { silentLogger } from '../src/core/log.ts';
import { pino } from 'pino';
import { captureSummary } from '../src/http/device-status.ts';
import { notice } from '../src/notices/index.ts';
import { writeVideo } from '../src/phantom/video.ts';
import { clip, realClipsSkip } from './helpers/data.ts';
import { freePort } from './helpers/mosquitto.ts';

type CaptureOverrides = NonNullable<ConfigInput['capture']>;

/** Short timings, so that states change and restarts happen within a few seconds. */
const FAST: CaptureOverrides = {
  noSignalSeconds: 1,
  frozenSeconds: 1,
  watchdogSeconds: 2,
  imageAreaRefreshSeconds: 1,
  restart: { initialDelayMs: 200, maxDelayMs: 1000 },
};

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'bv-edge-capture-'));
}

function captureService(
  source: CaptureSourceInput,
  overrides: CaptureOverrides = {},
): CaptureService {
  const config = loadConfig({ capture: { ...FAST, ...overrides, source } }, { env: {} });
  return new CaptureService({
    capture: config.capture,
    dataDir: tempDir(),
    logger: silentLogger(),
  });
}

/** Polls `status()` until `done` holds; fails with the last status after `timeoutMs`. */
async function waitFor(
  service: CaptureService,
  done: (status: CaptureStatus) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<CaptureStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = service.status();
    if (done(status)) return status;
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(status)}`);
    }
    await delay(100);
  }
}

/** Process ids whose parent is this process, from /proc. */
/** Returns a process's command line, or '' when it exited meanwhile. */
function readCommandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function childPids(): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the command name in parentheses come the state and the parent pid.
      const [state, parentText] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A zombie has exited and only waits to be reaped, so it uses no resources.
      if (Number(parentText) === process.pid && state !== 'Z') children.push(Number(entry));
    } catch {
      // The process exited while the folder was read.
    }
  }
  return children;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function noiseFrame(width: number, height: number, seed: number): GrayFrame {
  const data = new Uint8Array(width * height);
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = 40 + (state >>> 24) / 2;
  }
  return { width, height, channels: 1, data };
}

function uniformFrame(width: number, height: number, level: number): GrayFrame {
  return { width, height, channels: 1, data: new Uint8Array(width * height).fill(level) };
}

function intersects(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

// Unit tests of the parts, without GStreamer.

test('backoff doubles up to the cap', () => {
  const backoff = new Backoff(200, 1000);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => backoff.next()),
    [200, 400, 800, 1000, 1000],
  );
  backoff.reset();
  assert.equal(backoff.next(), 200);
});

test('frame queue drops the oldest', () => {
  const frame = (sequence: number) => ({
    data: new Uint8Array(1),
    width: 1,
    height: 1,
    timestampS: sequence,
    sequence,
  });
  const live = new FrameQueue(2, true);
  assert.equal(live.push(frame(1)), false);
  assert.equal(live.push(frame(2)), false);
  assert.equal(live.push(frame(3)), true);
  assert.equal(live.shift()?.sequence, 2);
  assert.equal(live.accepting, true);
  const file = new FrameQueue(2, false);
  file.push(frame(1));
  file.push(frame(2));
  assert.equal(file.accepting, false);
  assert.equal(file.length, 2);
});

test('frame ring keeps the last seconds', () => {
  const ring = new FrameRing(1);
  const frame = uniformFrame(2, 2, 0);
  for (let i = 0; i < 100; i++) ring.push({ frame, timestampS: i * 0.05 });
  const kept = ring.since();
  assert.equal(kept[kept.length - 1]!.timestampS, 99 * 0.05);
  assert.ok(kept[0]!.timestampS >= 99 * 0.05 - 1 - 1e-9, `oldest kept ${kept[0]!.timestampS}`);
  assert.equal(ring.size, 21);
  assert.equal(ring.since(4.475).length, 10);
});

test('frame ring caps frames without time', () => {
  const ring = new FrameRing(0.1);
  for (let i = 0; i < 100; i++) ring.push({ frame: uniformFrame(1, 1, 0), timestampS: 5 });
  assert.equal(ring.size, 12);
});

test('frame ring caps memory', () => {
  const ring = new FrameRing(10, 1000);
  for (let i = 0; i < 20; i++) ring.push({ frame: uniformFrame(10, 10, 0), timestampS: i / 30 });
  assert.equal(ring.size, 10);
  assert.equal(ring.latest()?.timestampS, 19 / 30);
});

test('fps meter measures the window', () => {
  const meter = new FpsMeter();
  for (let i = 0; i <= 60; i++) meter.record(i / 30);
  assert.ok(Math.abs(meter.fps(2) - 30) < 0.01, `fps ${meter.fps(2)}`);
  assert.equal(meter.fps(10), 0);
});

test('frame reader splits and joins chunks', () => {
  const header = encodeFrameHeader(3, 2, 7, 12.5);
  const pixels = Buffer.from([1, 2, 3, 4, 5, 6]);
  const stream = Buffer.concat([header, pixels, encodeFrameHeader(1, 1, 8, 13), Buffer.from([9])]);
  const reader = new FrameReader();
  const frames = [...stream].flatMap((byte) => reader.push(Buffer.from([byte])));
  assert.equal(frames.length, 2);
  assert.deepEqual([...frames[0]!.frame.data], [1, 2, 3, 4, 5, 6]);
  assert.equal(frames[0]!.timestampS, 12.5);
  assert.equal(frames[0]!.sequence, 7);
  assert.equal(frames[1]!.frame.width, 1);
  assert.ok(frames[0]!.frame.data instanceof Uint8Array, 'frame data is a Uint8Array');
  assert.ok(!Buffer.isBuffer(frames[0]!.frame.data), 'frame data is not a Buffer');
});

test('frame reader rejects a corrupt header', () => {
  const reader = new FrameReader();
  assert.throws(() => reader.push(Buffer.alloc(24, 0xff)), /corrupt frame header/);
});

test('signal monitor finds frozen and blank', () => {
  const monitor = new SignalMonitor({
    frozenSeconds: 1,
    frozenThreshold: 0.05,
    blankUniformShare: 0.98,
  });
  const still = noiseFrame(64, 48, 1);
  const conditions: string[] = [];
  for (let i = 0; i < 40; i++) conditions.push(monitor.observe(still, i / 30, null));
  assert.equal(conditions[0], 'live');
  assert.equal(conditions[39], 'frozen');
  // One changed frame, as an encoder's key frame gives, keeps the image frozen.
  assert.equal(monitor.observe(noiseFrame(64, 48, 2), 40 / 30, null), 'frozen');
  const moving = [3, 4, 5].map((seed, i) =>
    monitor.observe(noiseFrame(64, 48, seed), (41 + i) / 30, null),
  );
  assert.equal(moving[2], 'live');
  assert.equal(monitor.observe(uniformFrame(64, 48, 3), 2, null), 'blank');
});

test('signal monitor keeps moving frames live', () => {
  const monitor = new SignalMonitor({
    frozenSeconds: 0.5,
    frozenThreshold: 0.05,
    blankUniformShare: 0.98,
  });
  for (let i = 0; i < 60; i++) {
    assert.equal(monitor.observe(noiseFrame(32, 32, i + 1), i / 30, null), 'live', `frame ${i}`);
  }
});

test('manual image area wins and is clipped', () => {
  const auto = { x: 1, y: 2, width: 3, height: 4 };
  const frame = { width: 100, height: 80 };
  assert.deepEqual(chooseImageArea(null, auto, frame), auto);
  assert.deepEqual(chooseImageArea({ x: 10, y: 10, width: 20, height: 20 }, auto, frame), {
    x: 10,
    y: 10,
    width: 20,
    height: 20,
  });
  assert.deepEqual(chooseImageArea({ x: 90, y: 70, width: 50, height: 50 }, auto, frame), {
    x: 90,
    y: 70,
    width: 10,
    height: 10,
  });
  assert.equal(chooseImageArea({ x: 200, y: 0, width: 5, height: 5 }, auto, frame), null);
  assert.equal(chooseImageArea(null, null, frame), null);
});

test('crop keeps only the image area', () => {
  const frame = {
    width: 4,
    height: 3,
    channels: 1 as const,
    data: Uint8Array.from({ length: 12 }, (_, i) => i),
  };
  const cropped = cropToImageArea(frame, { x: 1, y: 1, width: 2, height: 2 });
  assert.deepEqual([...cropped.data], [5, 6, 9, 10]);
  assert.equal(cropped.width, 2);
  assert.equal(cropped.height, 2);
  const rgb = {
    width: 2,
    height: 1,
    channels: 3 as const,
    data: Uint8Array.from([1, 2, 3, 4, 5, 6]),
  };
  assert.deepEqual([...cropToImageArea(rgb, { x: 1, y: 0, width: 1, height: 1 }).data], [4, 5, 6]);
  assert.throws(
    () => cropToImageArea(frame, { x: 3, y: 0, width: 2, height: 1 }),
    /not inside the 4x3 frame/,
  );
});

test('capture failure names the file', () => {
  const gstreamer = notice('notice.capture.pipelineError', {
    detail: 'This file contains no playable streams (element qtdemux0).',
  });
  const failure = { code: 'pipeline_error', notice: gstreamer };
  const phantom = explainCaptureFailure(failure, { file: '/data/phantom/ivc.mp4', phantom: true });
  assert.equal(phantom.key, 'notice.capture.phantomClipDamaged');
  assert.deepEqual(phantom.params, {
    detail: 'This file contains no playable streams (element qtdemux0)',
    path: '/data/phantom/ivc.mp4',
  });
  assert.match(phantom.text, /^This file contains no playable streams \(element qtdemux0\), /);
  assert.match(phantom.text, /reading the phantom clip \/data\/phantom\/ivc\.mp4\. The clip/);
  const file = explainCaptureFailure(failure, { file: '/media/scan.mp4', phantom: false });
  assert.equal(file.key, 'notice.capture.fileUnplayable');
  assert.match(file.text, /reading \/media\/scan\.mp4\. Check that capture\.source\.path/);
  // A stream's failure has no file to add.
  assert.equal(explainCaptureFailure(failure, { file: null, phantom: false }), gstreamer);
});

test('capture summary carries the reason notice', () => {
  const service = captureService({ kind: 'test' });
  const summary = captureSummary(service);
  assert.equal(summary.state, 'stopped');
  assert.equal(summary.reason, 'not started');
  assert.deepEqual(summary.reasonNotice, {
    key: 'notice.capture.notStarted',
    params: {},
    text: 'not started',
  });
});

test('pipelines for each source kind', () => {
  const options = { queueFrames: 4, heartbeatMs: 500 };
  const sink =
    'videoconvert ! video/x-raw,format=GRAY8 ! appsink name=sink max-buffers=2 drop=false';
  const v4l2 = buildWorkerPlan(
    {
      kind: 'v4l2',
      device: '/dev/video3',
      format: 'YUY2',
      width: 1920,
      height: 1080,
      framerate: 30,
    },
    options,
  );
  assert.equal(
    v4l2.launch,
    `v4l2src name=src ! video/x-raw,format=YUY2,width=1920,height=1080,framerate=30/1 ! ${sink} sync=false`,
  );
  assert.deepEqual(v4l2.properties, [{ element: 'src', name: 'device', value: '/dev/video3' }]);
  assert.equal(v4l2.device, '/dev/video3');
  assert.equal(v4l2.realTime, true);

  const mjpeg = buildWorkerPlan({ kind: 'v4l2', device: '/dev/video0', format: 'MJPG' }, options);
  assert.match(mjpeg.launch, /^v4l2src name=src ! image\/jpeg ! jpegdec ! videoconvert/);

  const file = buildWorkerPlan(
    { kind: 'file', path: '/a b.mp4', loop: true, realTime: false },
    options,
  );
  assert.equal(file.launch, `filesrc name=src ! decodebin ! ${sink} sync=false`);
  assert.equal(file.realTime, false);
  assert.equal(file.loop, true);
  assert.equal(file.file, '/a b.mp4');

  const rtsp = buildWorkerPlan(
    { kind: 'rtsp', url: 'rtsp://cam/s', latencyMs: 100, transport: 'tcp' },
    options,
  );
  assert.match(rtsp.launch, /^rtspsrc name=src latency=100 protocols=tcp ! decodebin ! /);

  const udp = buildWorkerPlan(
    { kind: 'udp', address: '127.0.0.1', port: 5000, encoding: 'rtp-h265', latencyMs: 50 },
    options,
  );
  assert.match(
    udp.launch,
    /encoding-name=\(string\)H265.*rtpjitterbuffer latency=50 ! rtph265depay/,
  );

  const test = buildWorkerPlan(
    { kind: 'test', pattern: 'ball', width: 320, height: 240, framerate: 25 },
    options,
  );
  assert.match(
    test.launch,
    /^videotestsrc name=src is-live=true pattern=ball ! video\/x-raw,width=320,height=240,framerate=25\/1 ! /,
  );

  const raw = buildWorkerPlan({ kind: 'pipeline', launch: 'videotestsrc num-buffers=5' }, options);
  assert.equal(raw.launch, `videotestsrc num-buffers=5 ! ${sink} sync=false`);
  assert.equal(
    gstLaunchDescription(file),
    'filesrc name=src location="/a b.mp4" ! decodebin ! videoconvert ! video/x-raw,format=GRAY8 ! fakesink sync=false',
  );
});

// The capture service on real GStreamer pipelines in real capture processes.

test('looped real clip keeps a steady rate', { skip: realClipsSkip }, async () => {
  // 82 frames at 30 fps, 2.7 s per loop.
  const service = captureService({ kind: 'file', path: clip('ivc/ivc-trans-collapsing.mp4') });
  const timestamps: number[] = [];
  const unsubscribe = service.subscribe((frame) => timestamps.push(frame.timestampS));
  try {
    await service.start();
    await waitFor(service, (s) => s.state === 'live', 'live');
    const rates: number[] = [];
    const sampler = setInterval(() => rates.push(service.fps), 250);
    const status = await waitFor(service, (s) => s.loops >= 3, 'three loops', 20_000);
    clearInterval(sampler);
    assert.equal(status.restarts, 0, 'no restart');
    assert.deepEqual(status.frameSize, { width: 720, height: 540 });
    // The first samples cover less than the 2-s window of the meter.
    const steady = rates.slice(8);
    assert.ok(steady.length >= 20, `only ${steady.length} rate samples`);
    for (const rate of steady) {
      assert.ok(rate > 25, `rate ${rate} in ${steady.join(', ')}`);
      assert.ok(rate < 35, `rate ${rate} in ${steady.join(', ')}`);
    }
    const mean = steady.reduce((sum, rate) => sum + rate, 0) / steady.length;
    assert.ok(Math.abs(mean - 30) < 2, `mean rate ${mean}`);
    assert.ok(status.framesReceived >= 3 * 82, `frames ${status.framesReceived}`);
    assert.ok(status.framesDropped <= 3, `dropped ${status.framesDropped}`);
    for (let i = 1; i < timestamps.length; i++) {
      assert.ok(timestamps[i]! > timestamps[i - 1]!, `timestamp ${i} does not increase`);
    }
    const recent = service.recentFrames(1);
    assert.ok(
      recent.length >= 25 && recent.length <= 32,
      `${recent.length} frames in the last 1 s`,
    );
    const ring = service.recentFrames();
    const spanS = ring[ring.length - 1]!.timestampS - ring[0]!.timestampS;
    assert.ok(spanS > 7, `ring spans ${spanS} s`);
    assert.ok(spanS <= 8, `ring spans ${spanS} s`);
  } finally {
    unsubscribe();
    await service.stop();
  }
  assert.equal(service.state, 'stopped');
});

test('missing capture device is an error', async () => {
  const service = captureService({ kind: 'v4l2', device: '/dev/video99' });
  const states: CaptureState[] = [];
  service.onStateChange((state) => states.push(state));
  try {
    await service.start();
    const status = await waitFor(service, (s) => s.restarts >= 2, 'two restarts');
    assert.equal(status.state, 'error');
    assert.match(status.reason ?? '', /Video device \/dev\/video99 not found/);
    assert.match(status.reason ?? '', /capture\.source\.device/);
    assert.equal(status.reasonNotice?.key, 'notice.capture.deviceNotFound');
    assert.deepEqual(status.reasonNotice?.params, { device: '/dev/video99' });
    assert.equal(status.reasonNotice?.text, status.reason);
    assert.deepEqual(states, ['starting', 'error']);
  } finally {
    await service.stop();
  }
});

test('deleted file is an error until restored', { skip: realClipsSkip }, async () => {
  const path = join(tempDir(), 'clip.mp4');
  copyFileSync(clip('ivc/ivc-trans-collapsing.mp4'), path);
  const service = captureService({ kind: 'file', path });
  try {
    await service.start();
    await waitFor(service, (s) => s.state === 'live', 'live');
    unlinkSync(path);
    const failed = await waitFor(service, (s) => s.state === 'error', 'error after the loop');
    assert.match(failed.reason ?? '', /Video file .*clip\.mp4 not found/);
    copyFileSync(clip('ivc/ivc-trans-collapsing.mp4'), path);
    const recovered = await waitFor(service, (s) => s.state === 'live', 'live again');
    assert.ok(recovered.restarts >= 1, `restarts ${recovered.restarts}`);
    assert.equal(recovered.reason, null);
  } finally {
    await service.stop();
  }
});

test('missing file is a not-found notice', async () => {
  const path = join(tempDir(), 'absent.mp4');
  const service = captureService({ kind: 'file', path });
  try {
    await service.start();
    const status = await waitFor(service, (s) => s.state === 'error', 'error');
    assert.equal(status.reason, `Video file ${path} not found. Check capture.source.path.`);
    assert.deepEqual(status.reasonNotice, {
      key: 'notice.capture.fileNotFound',
      params: { path },
      text: status.reason,
    });
    const summary = captureSummary(service);
    assert.deepEqual(summary.reasonNotice?.params, { path });
  } finally {
    await service.stop();
  }
});

test('pipeline error restarts and recovers', async () => {
  const launch =
    'videotestsrc is-live=true pattern=snow ! video/x-raw,width=160,height=120,framerate=30/1 ' +
    '! identity error-after=30';
  const service = captureService({ kind: 'pipeline', launch });
  const states: CaptureState[] = [];
  service.onStateChange((state) => states.push(state));
  try {
    await service.start();
    const failed = await waitFor(service, (s) => s.state === 'error', 'error');
    assert.match(failed.reason ?? '', /Failed after iterations as requested \(element identity0\)/);
    // GStreamer's own text cannot be translated, so it is the notice's detail.
    assert.equal(failed.reasonNotice?.key, 'notice.capture.pipelineError');
    assert.equal(failed.reasonNotice?.params.detail, failed.reason);
    const recovered = await waitFor(
      service,
      (s) => s.state === 'live' && s.restarts >= 1 && s.framesReceived > 40,
      'live again',
    );
    assert.equal(recovered.reason, null);
    assert.deepEqual(states.slice(0, 4), ['starting', 'live', 'error', 'live']);
  } finally {
    await service.stop();
  }
});

test('ended live stream restarts', async () => {
  const launch =
    'videotestsrc is-live=true num-buffers=20 pattern=snow ! ' +
    'video/x-raw,width=160,height=120,framerate=30/1';
  const service = captureService({ kind: 'pipeline', launch });
  try {
    await service.start();
    const failed = await waitFor(service, (s) => s.state === 'error', 'error');
    assert.match(failed.reason ?? '', /ended its stream/);
    await waitFor(service, (s) => s.restarts >= 1 && s.framesReceived > 20, 'a second run');
  } finally {
    await service.stop();
  }
});

test('replaced file plays the new one', async () => {
  const dir = tempDir();
  const path = join(dir, 'clip.mp4');
  const frames = (width: number, height: number) =>
    Array.from({ length: 20 }, (_, i) => noiseFrame(width, height, i + 1));
  await writeVideo(frames(160, 120), 30, path);
  await writeVideo(frames(320, 240), 30, join(dir, 'next.mp4'));
  const service = captureService({ kind: 'file', path });
  try {
    await service.start();
    await waitFor(service, (s) => s.frameSize?.width === 160, 'the first clip');
    renameSync(join(dir, 'next.mp4'), path);
    const status = await waitFor(service, (s) => s.frameSize?.width === 320, 'the new clip');
    assert.equal(status.restarts, 0);
    assert.equal(status.frameSize?.height, 240);
  } finally {
    await service.stop();
  }
});

test('phantom source follows the recorded view', async () => {
  const service = captureService({ kind: 'phantom' });
  try {
    await service.start();
    await waitFor(service, (s) => s.state === 'live', 'the first clip', 60_000);
    assert.equal(service.status().phantomView, 'ijv');
    const before = service.status().workerPid;
    await service.prepareView('ivc');
    const status = service.status();
    assert.equal(status.state, 'live');
    assert.equal(status.phantomView, 'ivc');
    assert.notEqual(status.workerPid, before, 'the clip switch kept the old capture process');
    // The same view again keeps the process that plays it.
    await service.prepareView('ivc');
    assert.equal(service.status().workerPid, status.workerPid);
  } finally {
    await service.stop();
  }
});

test('unusable phantom clip rejects the switch', async () => {
  const dataDir = tempDir();
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const config = loadConfig({ capture: { ...FAST, source: { kind: 'phantom' } } }, { env: {} });
  const service = new CaptureService({ capture: config.capture, dataDir, logger });
  const ivc = join(dataDir, 'phantom', 'ivc.mp4');
  try {
    await service.start();
    await waitFor(service, (s) => s.state === 'live', 'the first clip', 60_000);
    // A folder in place of the clip can be neither read nor replaced by a new clip.
    rmSync(ivc);
    mkdirSync(ivc);
    writeFileSync(join(ivc, 'note.txt'), 'not a clip');
    for (let attempt = 1; attempt <= 2; attempt++) {
      await assert.rejects(service.prepareView('ivc'), (error: unknown) => {
        assert.ok(error instanceof BvEdgeError, `attempt ${attempt}: ${String(error)}`);
        assert.equal(error.code, 'source_not_live');
        assert.equal(error.notice?.key, 'notice.capture.clipUnusable');
        assert.equal(error.notice?.params.path, ivc);
        assert.match(error.message, /Remove .*ivc\.mp4; bv-edge generates the clip again/);
        return true;
      });
      const status = service.status();
      assert.equal(status.state, 'error');
      assert.equal(status.reasonNotice?.key, 'notice.capture.clipUnusable');
      assert.equal(status.workerPid, null, 'a capture process runs without its clip');
    }
    const logged = lines.filter((line) => line.includes('phantom clip cannot be used'));
    assert.equal(logged.length, 1, `logged ${logged.length} times`);
    assert.equal(JSON.parse(logged[0]!).path, ivc);

    rmSync(ivc, { recursive: true });
    await service.prepareView('ivc');
    const status = service.status();
    assert.equal(status.state, 'live');
    assert.equal(status.phantomView, 'ivc');
    assert.ok(statSync(ivc).isFile(), 'the ivc clip was not generated again');
  } finally {
    await service.stop();
  }
});

test('damaged phantom clip is regenerated at a switch', async () => {
  const dataDir = tempDir();
  const config = loadConfig({ capture: { ...FAST, source: { kind: 'phantom' } } }, { env: {} });
  const service = new CaptureService({ capture: config.capture, dataDir, logger: silentLogger() });
  const ca = join(dataDir, 'phantom', 'ca.mp4');
  try {
    await service.start();
    await waitFor(service, (s) => s.state === 'live', 'the first clip', 60_000);
    const size = statSync(ca).size;
    truncateSync(ca, Math.floor(size / 3));
    await service.prepareView('ca');
    assert.equal(service.status().state, 'live');
    assert.equal(statSync(ca).size, size);
  } finally {
    await service.stop();
  }
});

test('fixed phantom view ignores the recorded view', async () => {
  const service = captureService({ kind: 'phantom', view: 'ca' });
  try {
    await service.start();
    await waitFor(service, (s) => s.state === 'live', 'the carotid clip', 60_000);
    const pid = service.status().workerPid;
    await service.prepareView('ijv');
    assert.equal(service.status().phantomView, 'ca');
    assert.equal(service.status().workerPid, pid);
  } finally {
    await service.stop();
  }
});

test('memory growth replaces the capture process', async () => {
  const dir = tempDir();
  const path = join(dir, 'clip.mp4');
  await writeVideo(
    Array.from({ length: 10 }, (_, i) => noiseFrame(160, 120, i + 1)),
    30,
    path,
  );
  // A limit of 0 MiB replaces the process at the first loop boundary that follows any growth.
  process.env.BV_EDGE_CAPTURE_MAX_RSS_GROWTH_MB = '0';
  const service = captureService({ kind: 'file', path, loop: true });
  try {
    await service.start();
    const first = await waitFor(service, (s) => s.workerPid !== null, 'a capture process');
    const replaced = await waitFor(
      service,
      (s) => s.workerPid !== null && s.workerPid !== first.workerPid && s.state === 'live',
      'a replacement process',
      30_000,
    );
    assert.ok(replaced.restarts >= 1, `restarts ${replaced.restarts}`);
    assert.ok(replaced.loops >= 1, `loops ${replaced.loops}`);
  } finally {
    delete process.env.BV_EDGE_CAPTURE_MAX_RSS_GROWTH_MB;
    await service.stop();
  }
});

test('unknown element is an error', async () => {
  const service = captureService({ kind: 'pipeline', launch: 'videotestsrc ! nosuchelement' });
  try {
    await service.start();
    const status = await waitFor(service, (s) => s.state === 'error', 'error');
    assert.match(status.reason ?? '', /Invalid pipeline .*no element "nosuchelement"/);
  } finally {
    await service.stop();
  }
});

test('hung capture process is replaced', async () => {
  const service = captureService({
    kind: 'test',
    pattern: 'snow',
    width: 160,
    height: 120,
    framerate: 30,
  });
  try {
    await service.start();
    const live = await waitFor(service, (s) => s.state === 'live' && s.workerPid !== null, 'live');
    // A stopped process sends no heartbeat, as a process blocked in native code does not.
    process.kill(live.workerPid!, 'SIGSTOP');
    const failed = await waitFor(service, (s) => s.state === 'error', 'error');
    assert.match(failed.reason ?? '', /no heartbeat for 2 s/);
    const recovered = await waitFor(service, (s) => s.state === 'live', 'live again');
    assert.notEqual(recovered.workerPid, live.workerPid);
    assert.ok(!isAlive(live.workerPid!), `hung process ${live.workerPid} still runs`);
  } finally {
    await service.stop();
  }
});

test('repeated frame is frozen', async () => {
  const path = join(tempDir(), 'frozen.mp4');
  await writeVideo(
    Array.from({ length: 60 }, () => noiseFrame(160, 120, 7)),
    30,
    path,
  );
  const service = captureService({ kind: 'file', path });
  try {
    await service.start();
    const status = await waitFor(service, (s) => s.state === 'frozen', 'frozen');
    assert.match(status.reason ?? '', /has not changed for 1 s/);
    assert.equal(status.reasonNotice?.key, 'notice.capture.frozen');
    assert.deepEqual(status.reasonNotice?.params, { seconds: 1 });
    // Loops of the clip restart at a key frame, which must not read as motion.
    await waitFor(service, (s) => s.loops >= 2, 'two loops');
    assert.equal(service.state, 'frozen');
  } finally {
    await service.stop();
  }
});

test('uniform frames are blank', async () => {
  const path = join(tempDir(), 'black.mp4');
  await writeVideo(
    Array.from({ length: 30 }, () => uniformFrame(160, 120, 16)),
    30,
    path,
  );
  const service = captureService({ kind: 'file', path });
  try {
    await service.start();
    const status = await waitFor(service, (s) => s.state === 'blank', 'blank');
    assert.equal(status.reason, 'the frames are uniform, with no ultrasound image');
    assert.equal(status.reasonNotice?.key, 'notice.capture.blank');
    assert.equal(status.reasonNotice?.text, status.reason);
  } finally {
    await service.stop();
  }
});

test('file without loop ends in no-signal', async () => {
  const path = join(tempDir(), 'short.mp4');
  const frames = Array.from({ length: 15 }, (_, i) => noiseFrame(160, 120, i + 1));
  await writeVideo(frames, 30, path);
  const service = captureService({ kind: 'file', path, loop: false, realTime: false });
  try {
    await service.start();
    const status = await waitFor(service, (s) => s.state === 'no-signal', 'no-signal');
    assert.match(status.reason ?? '', /ended/);
    assert.equal(status.reasonNotice?.key, 'notice.capture.fileEnded');
    assert.equal(status.framesReceived, 15);
    assert.equal(status.restarts, 0);
  } finally {
    await service.stop();
  }
});

test('udp stream is received', async () => {
  const port = await freePort();
  const sender = spawn('gst-launch-1.0', [
    '-q',
    ...'videotestsrc is-live=true pattern=snow ! video/x-raw,width=160,height=120,framerate=30/1'.split(
      ' ',
    ),
    ...'! openh264enc ! rtph264pay config-interval=1 !'.split(' '),
    'udpsink',
    'host=127.0.0.1',
    `port=${port}`,
  ]);
  const service = captureService({ kind: 'udp', port });
  const frames: number[] = [];
  service.subscribe((frame) => frames.push(frame.timestampS));
  try {
    await service.start();
    const status = await waitFor(
      service,
      (s) => s.state === 'live' && s.framesReceived >= 30,
      '30 frames',
    );
    assert.deepEqual(status.frameSize, { width: 160, height: 120 });
    assert.ok(frames.length >= 30, `subscriber got ${frames.length} frames`);
  } finally {
    const exited = once(sender, 'exit');
    sender.kill('SIGTERM');
    await exited;
    await service.stop();
  }
});

test('gif image area leaves out overlays', { skip: realClipsSkip }, async () => {
  const path = clip('ivc/ivc-subcostal-normal.gif');
  const date = { x: 400, y: 0, width: 100, height: 22 };
  const banner = { x: 0, y: 335, width: 180, height: 40 };
  const check = (area: Rect, where: string) => {
    assert.ok(!intersects(area, date), `${where}: ${JSON.stringify(area)} overlaps the date`);
    assert.ok(!intersects(area, banner), `${where}: ${JSON.stringify(area)} overlaps the banner`);
    const inside =
      area.x <= 270 && 270 < area.x + area.width && area.y <= 180 && 180 < area.y + area.height;
    assert.ok(inside, `${where}: ${JSON.stringify(area)} leaves out (270,180)`);
  };
  check(detectImageArea(await decodeClip(path)), 'whole clip');

  const service = captureService({ kind: 'file', path });
  try {
    await service.start();
    const status = await waitFor(service, (s) => s.imageArea !== null, 'an image area');
    assert.deepEqual(status.frameSize, { width: 500, height: 375 });
    assert.equal(status.imageAreaSource, 'automatic');
    check(status.imageArea!, 'live capture');
  } finally {
    await service.stop();
  }
});

test('config image area overrides', { skip: realClipsSkip }, async () => {
  const manual = { x: 100, y: 50, width: 300, height: 250 };
  const service = captureService(
    { kind: 'file', path: clip('ivc/ivc-subcostal-normal.gif') },
    { imageArea: manual },
  );
  try {
    await service.start();
    const status = await waitFor(service, (s) => s.frameSize !== null, 'a frame');
    assert.deepEqual(status.imageArea, manual);
    assert.equal(status.imageAreaSource, 'config');
    assert.deepEqual(service.imageArea(), manual);
  } finally {
    await service.stop();
  }
});

test('stop leaves no capture process', async () => {
  const service = captureService({
    kind: 'test',
    pattern: 'snow',
    width: 160,
    height: 120,
    framerate: 30,
  });
  await service.start();
  const live = await waitFor(service, (s) => s.state === 'live', 'live');
  assert.ok(live.workerPid !== null, 'a capture process pid');
  assert.ok(isAlive(live.workerPid), 'capture process runs');
  await service.stop();
  assert.equal(service.status().workerPid, null);
  assert.ok(!isAlive(live.workerPid!), `capture process ${live.workerPid} still runs`);
  const left = childPids()
    .map((pid) => readCommandLine(pid))
    // tsx runs an esbuild service process for the test runner itself.
    .filter((command) => command !== '' && !command.includes('esbuild'));
  assert.deepEqual(left, [], 'child processes left after every test stopped its service');
});
