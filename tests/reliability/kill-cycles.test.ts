/**
 * The daemon killed with SIGKILL at random moments while it starts, scans on the phantom source
 * and drains its outbox to a real mosquitto. After every kill the database passes
 * `PRAGMA integrity_check` and no capture process is left behind; at the end every stored estimate
 * has reached the broker, and a repeated delivery carries the id it had the first time.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';

import Database from 'better-sqlite3';
import { connectAsync, type MqttClient } from 'mqtt';

import { VIEW_NAMES } from '../../src/core/image.ts';
import type { CaseSnapshot } from '../../src/workflow/types.ts';
import { repoRoot } from '../helpers/data.ts';
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';

const CYCLES = Number(process.env.BV_EDGE_KILL_CYCLES ?? 50);
/** Long enough for the reference model's window of 32 frames at 10 Hz. */
const RECORD_SECONDS = 3.5;
const READY_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 60_000;

/** Small deterministic generator (mulberry32), so a failing run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface RunningDaemon {
  child: ChildProcess;
  /** Status page URL once the daemon printed its start-up line, else null. */
  url: Promise<string | null>;
  stderr: () => string;
}

let folder = '';
let broker: Mosquitto;
let subscriber: MqttClient;
/** Estimate id of every estimate message received, in arrival order. */
const received: string[] = [];

before(async () => {
  if (mosquittoSkipReason) return;
  folder = mkdtempSync(join(tmpdir(), 'bv-edge-kill-'));
  broker = await startMosquitto();
  subscriber = await connectAsync(broker.url, { clientId: 'kill-cycles-server', clean: false });
  await subscriber.subscribeAsync('bv-edge/v1/+/+/estimates', { qos: 1 });
  subscriber.on('message', (_topic, payload) => {
    received.push((JSON.parse(payload.toString()) as { estimateId: string }).estimateId);
  });
});

after(async () => {
  await subscriber?.endAsync();
  await broker?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

function startDaemon(configPath: string): RunningDaemon {
  // A process group of its own, so the test can see and clean up anything the daemon leaves.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', resolve(repoRoot, 'src/cli.ts'), 'run', '--config', configPath],
    { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = new Promise<string | null>((resolveUrl) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /status page on (http:\S+)/.exec(stdout);
      if (match) resolveUrl(match[1]!);
    });
    child.on('exit', () => resolveUrl(null));
  });
  return { child, url, stderr: () => stderr };
}

/** Whether any process of the daemon's group is still alive. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends SIGKILL to the daemon alone and waits for the rest of its group to exit by itself. */
async function killDaemon(daemon: RunningDaemon): Promise<{ orphans: boolean }> {
  const pid = daemon.child.pid!;
  if (daemon.child.exitCode === null) {
    daemon.child.kill('SIGKILL');
    await once(daemon.child, 'exit');
  }
  const deadline = Date.now() + 10_000;
  while (groupAlive(pid) && Date.now() < deadline) await delay(100);
  const orphans = groupAlive(pid);
  if (orphans) process.kill(-pid, 'SIGKILL');
  return { orphans };
}

async function call(base: string, path: string, body?: unknown): Promise<CaseSnapshot | null> {
  const response = await fetch(new URL(`api/workflow${path}`, base), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as { case?: CaseSnapshot | null };
  return json.case ?? null;
}

/**
 * Moves the open case one step on, or opens a new one; the daemon may die at any moment, so each
 * call starts from the state the daemon reports. Returns the step that was taken.
 */
async function step(base: string, nextCaseId: () => string): Promise<string> {
  const snapshot = await call(base, '');
  if (!snapshot) {
    await call(base, '/case', { caseId: nextCaseId(), heightCm: 172, weightKg: 70, sex: 'male' });
    return 'open';
  }
  if (snapshot.step === 'recording' || snapshot.step === 'analysing') {
    await delay(200);
    return 'wait';
  }
  if (snapshot.step === 'review') {
    await call(base, snapshot.pendingAttempt?.result ? '/accept' : '/retake', {});
    return 'review';
  }
  if (snapshot.missingViews.length === 0) {
    await call(base, '/close', {});
    return 'close';
  }
  const view = VIEW_NAMES.find((name) => snapshot.missingViews.includes(name))!;
  await call(base, '/recording', { view, durationS: RECORD_SECONDS });
  return 'record';
}

function checkDatabase(path: string): { estimates: string[] } {
  const db = new Database(path);
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const rows = db.prepare('select estimate_id as id from estimates').all() as { id: string }[];
    return { estimates: rows.map((row) => row.id) };
  } finally {
    db.close();
  }
}

async function outboxDepth(base: string): Promise<number> {
  const status = (await (await fetch(new URL('api/status', base))).json()) as {
    outbox: { depth: number };
  };
  return status.outbox.depth;
}

test('kill -9 cycles lose nothing', { skip: mosquittoSkipReason, timeout: 1_200_000 }, async () => {
  const dataDir = join(folder, 'data');
  const configPath = join(folder, 'bv-edge.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      version: 2,
      dataDir,
      providers: ['cpu'],
      mqtt: { url: broker.url, site: 'reliability', device: 'cart-k' },
      http: { port: 0 },
      capture: { source: { kind: 'phantom', view: 'ca' } },
    }),
  );
  const next = random(20261204);
  let cases = 0;
  const killedAt = new Map<string, number>();
  let orphanCycles = 0;

  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const daemon = startDaemon(configPath);
    // One kill in five lands during start-up, one in four just after a case closes, while the
    // estimate drains to the broker, and the others after a random time of work.
    const draw = next();
    let mode = 'work';
    if (draw < 0.45) mode = 'drain';
    if (draw < 0.2) mode = 'start-up';
    const killAfterMs = mode === 'start-up' ? 200 + next() * 3000 : next() * 10_000;
    let phase = 'start-up';
    const started = Date.now();
    if (mode === 'start-up') {
      await delay(Math.max(0, killAfterMs - (Date.now() - started)));
    } else {
      const url = await Promise.race([daemon.url, delay(READY_TIMEOUT_MS, null)]);
      assert.ok(url, `cycle ${cycle}: the daemon did not start:\n${daemon.stderr()}`);
      const readyAt = Date.now();
      const done = (): boolean =>
        mode === 'drain' ? phase === 'close' : Date.now() - readyAt >= killAfterMs;
      while (!done()) {
        try {
          phase = await step(url, () => `kill-${++cases}`);
        } catch (error) {
          assert.fail(`cycle ${cycle}: the daemon failed while alive: ${String(error)}`);
        }
      }
      if (mode === 'drain') {
        phase = 'drain';
        await delay(next() * 300);
      }
    }
    killedAt.set(phase, (killedAt.get(phase) ?? 0) + 1);
    const { orphans } = await killDaemon(daemon);
    if (orphans) orphanCycles++;
    checkDatabase(join(dataDir, 'bv-edge.sqlite'));
  }

  // A last run delivers what the kills left queued.
  const daemon = startDaemon(configPath);
  const url = await daemon.url;
  assert.ok(url, `the final daemon did not start:\n${daemon.stderr()}`);
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while ((await outboxDepth(url)) > 0 && Date.now() < deadline) await delay(200);
  await delay(500);
  daemon.child.kill('SIGTERM');
  const [code] = (await once(daemon.child, 'exit')) as [number | null];
  assert.equal(code, 0, daemon.stderr());

  const { estimates } = checkDatabase(join(dataDir, 'bv-edge.sqlite'));
  const unique = new Set(received);
  const phases = [...killedAt].map(([phase, n]) => `${phase} ${n}`).join(', ');
  console.log(
    `kill cycles: ${CYCLES} kills (last step before the kill: ${phases}); ` +
      `${estimates.length} estimates stored, ${received.length} messages received, ` +
      `${unique.size} distinct, ${received.length - unique.size} repeated`,
  );
  assert.equal(orphanCycles, 0, `${orphanCycles} kills left a capture process behind`);
  assert.ok(estimates.length > 0, 'no case was completed between the kills');
  for (const id of estimates) assert.ok(unique.has(id), `estimate ${id} never reached the broker`);
  assert.equal(unique.size, estimates.length, 'the broker received an estimate that is not stored');
});
