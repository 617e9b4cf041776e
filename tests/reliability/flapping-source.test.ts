/**
 * A capture source that comes and goes: a pipeline source reads RTP/JPEG from a UDP port, and a
 * gst-launch-1.0 sender on 127.0.0.1 is started and stopped every few seconds. The capture
 * service goes to no-signal (or error) and back to live each time, the daemon keeps serving requests,
 * and a recording started while live completes or fails with a quality message.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';

import { CaptureService } from '../../src/capture/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { CaptureState } from '../../src/core/frames.ts';
import { silentLogger } from '../../src/core/log.ts';
import type { CaseSnapshot } from '../../src/workflow/types.ts';
import { freePort } from '../helpers/mosquitto.ts';
import {
  assertStoreIntact,
  seedCases,
  startTestDaemon,
  type TestDaemon,
} from './helpers/harness.ts';

const CYCLES = Number(process.env.BV_EDGE_FLAP_CYCLES ?? 4);
/** Seconds the sender runs, then stays off, in each cycle. */
const ON_SECONDS = 5;
const OFF_SECONDS = 3;
const RTP_JPEG_CAPS =
  'application/x-rtp,media=(string)video,clock-rate=(int)90000,encoding-name=(string)JPEG,payload=(int)26';

const gstSkip: string | false =
  spawnSync('gst-inspect-1.0', ['rtpjpegdepay'], { stdio: 'ignore' }).status === 0
    ? false
    : 'GStreamer rtpjpegdepay not found; install gstreamer1.0-plugins-good';

let folder = '';
let capture: CaptureService | null = null;
let daemon: TestDaemon | null = null;
let sender: ChildProcess | null = null;

before(() => {
  folder = mkdtempSync(join(tmpdir(), 'bv-edge-flap-'));
});

after(async () => {
  await stopSender();
  await daemon?.stop();
  await capture?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

function startSender(port: number): void {
  sender = spawn(
    'gst-launch-1.0',
    [
      '-q',
      // Noise: neither blank nor frozen, so the capture service calls it live.
      'videotestsrc',
      'is-live=true',
      'pattern=snow',
      // rtpjpegpay takes 4:2:0 JPEG only.
      '!',
      'video/x-raw,format=I420,width=320,height=240,framerate=20/1',
      '!',
      'jpegenc',
      '!',
      'rtpjpegpay',
      '!',
      'udpsink',
      'host=127.0.0.1',
      `port=${port}`,
    ],
    { stdio: 'ignore' },
  );
}

async function stopSender(): Promise<void> {
  const child = sender;
  sender = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

async function waitForState(states: CaptureState[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (states.includes(capture!.state)) return true;
    await delay(100);
  }
  return false;
}

async function api<T>(path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const response = await fetch(new URL(`api/workflow${path}`, daemon!.url), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as T };
}

test('flapping source recovers each time', { skip: gstSkip, timeout: 240_000 }, async () => {
  const seeded = seedCases(folder, 2);
  const port = await freePort();
  const overrides = {
    mqtt: { url: `mqtt://127.0.0.1:${await freePort()}` },
    fleet: { enabled: false },
    capture: {
      source: {
        kind: 'pipeline' as const,
        launch:
          `udpsrc address=127.0.0.1 port=${port} caps="${RTP_JPEG_CAPS}" ! ` +
          'rtpjitterbuffer latency=50 ! rtpjpegdepay ! jpegdec',
      },
      noSignalSeconds: 1,
      stallSeconds: 3,
      restart: { initialDelayMs: 200, maxDelayMs: 1000 },
    },
  };
  const config = loadConfig({ dataDir: folder, providers: ['cpu'], ...overrides }, { env: {} });
  capture = new CaptureService({
    capture: config.capture,
    dataDir: folder,
    logger: silentLogger(),
  });
  const transitions: CaptureState[] = [];
  capture.onStateChange((state) => transitions.push(state));
  await capture.start();
  daemon = await startTestDaemon(folder, overrides, capture);
  await api('/case', { caseId: 'flap-1', heightCm: 160, weightKg: 55, sex: 'female' });

  let recoveries = 0;
  let recording: string | null = null;
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    startSender(port);
    const live = await waitForState(['live'], 20_000);
    assert.ok(live, `cycle ${cycle}: capture did not go live (state ${capture.state})`);
    recoveries++;
    if (cycle === 1) {
      const started = await api<{ case: CaseSnapshot }>('/recording', {
        view: 'ivc',
        durationS: 3.5,
      });
      assert.equal(started.status, 202, `recording while live: ${JSON.stringify(started.json)}`);
    }
    await delay(ON_SECONDS * 1000);
    await stopSender();
    const lost = await waitForState(['no-signal', 'error'], 15_000);
    assert.ok(lost, `cycle ${cycle}: capture stayed ${capture.state} with the sender stopped`);
    const health: Response = await fetch(new URL('healthz', daemon.url));
    assert.equal(health.status, 200, `cycle ${cycle}: /healthz failed`);
    if (cycle === 1) {
      const { json } = await api<{ case: CaseSnapshot }>('');
      const attempt = json.case.pendingAttempt;
      assert.equal(
        json.case.step,
        'review',
        `the recording did not end: ${JSON.stringify(json.case)}`,
      );
      assert.ok(attempt, 'no attempt after the recording');
      if (attempt.result) recording = `completed with ${attempt.result.frameCount} frames`;
      else {
        assert.ok(attempt.quality.issues.length > 0, 'a failed recording without a quality issue');
        for (const issue of attempt.quality.issues) {
          assert.ok(issue.message.length > 20, `quality message "${issue.message}"`);
        }
        recording = `failed: ${attempt.quality.issues.map((issue) => issue.code).join(', ')}`;
      }
    }
    await delay(OFF_SECONDS * 1000);
  }

  const counts = new Map<CaptureState, number>();
  for (const state of transitions) counts.set(state, (counts.get(state) ?? 0) + 1);
  const lostCount = (counts.get('no-signal') ?? 0) + (counts.get('error') ?? 0);
  assert.ok((counts.get('live') ?? 0) >= CYCLES, `live ${counts.get('live') ?? 0} times`);
  assert.ok(lostCount >= CYCLES, `signal lost ${lostCount} times`);
  assert.ok(recording, 'no recording was made while live');
  assert.equal(await daemon.stop(), true, 'the daemon did not stop cleanly');
  daemon = null;
  const stored = assertStoreIntact(folder, seeded);
  const summary = [...counts].map(([state, n]) => `${state} ${n}`).join(', ');
  console.log(
    `flapping source: ${CYCLES} cycles of ${ON_SECONDS} s on and ${OFF_SECONDS} s off, ` +
      `${recoveries} recoveries, ${transitions.length} state changes (${summary}); ` +
      `recording ${recording}; ${stored} cases stored`,
  );
});
