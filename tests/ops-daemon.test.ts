import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import type { Problem } from '../src/http/problem.ts';
import { DaemonProcesses, type RunningDaemon } from './helpers/daemon-process.ts';

// These tests run the real `bv-edge run` command as a child process, the way systemd runs it.
// The broker URL points at a closed port on 127.0.0.1, so estimates stay queued.

const PYTHON = '/usr/bin/python3';
const pythonSkip: string | false = existsSync(PYTHON)
  ? false
  : `${PYTHON} not found; the notify test reads the socket with it ("apt-get install python3")`;

/** Prints each datagram received on the socket at argv[1] as one JSON string per line. */
const NOTIFY_RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('"bound"', flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`;

let processes: DaemonProcesses;
let tempDir = '';

before(async () => {
  processes = await DaemonProcesses.create('bv-edge-ops-daemon-');
  tempDir = processes.dir;
});

after(async () => {
  await processes.cleanup();
});

function writeConfig(name: string, settings: Record<string, unknown>): string {
  return processes.writeConfig(name, settings);
}

function startDaemon(configPath: string, env: Record<string, string> = {}): Promise<RunningDaemon> {
  return processes.start(configPath, env);
}

async function api<T>(
  base: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const response = await fetch(new URL(`api/workflow${path}`, base), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as T };
}

interface Snapshot {
  caseId: string;
  step: string;
  accepted: Record<string, unknown>;
  missingViews: string[];
  notice: string | null;
  recording: { frameCount: number } | null;
}

async function waitForStep(base: string, step: string, timeoutMs = 60_000): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs;
  let last: Snapshot | null = null;
  while (Date.now() < deadline) {
    last = (await api<{ case: Snapshot }>(base, '')).json.case;
    if (last?.step === step) return last;
    await delay(200);
  }
  assert.fail(`step ${step} not reached within ${timeoutMs} ms; last ${JSON.stringify(last)}`);
}

/** Starts the datagram receiver on a new socket and returns its messages so far. */
async function startNotifyReceiver(): Promise<{ socket: string; messages: () => string[] }> {
  const socket = join(tempDir, 'notify.sock');
  const child = spawn(PYTHON, ['-c', NOTIFY_RECEIVER, socket], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  processes.track(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const messages = (): string[] =>
    output
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as string)
      .filter((message) => message !== 'bound' && message !== 'BARRIER=1');
  const deadline = Date.now() + 10_000;
  while (!output.includes('"bound"')) {
    if (Date.now() > deadline) throw new Error('notify receiver did not bind its socket');
    await delay(50);
  }
  return { socket, messages };
}

describe('systemd notify protocol', { skip: pythonSkip }, () => {
  test('ready, watchdog and stopping', async () => {
    const receiver = await startNotifyReceiver();
    const config = writeConfig('notify', {
      dataDir: join(tempDir, 'notify-data'),
      capture: { source: { kind: 'test' } },
    });
    // 0.4 s: a ping every 0.2 s, so several arrive while the test waits.
    const daemon = await startDaemon(config, {
      NOTIFY_SOCKET: receiver.socket,
      WATCHDOG_USEC: '400000',
    });
    const deadline = Date.now() + 10_000;
    const readyIndex = (): number => receiver.messages().findIndex((m) => m.startsWith('READY=1'));
    while (Date.now() < deadline) {
      const index = readyIndex();
      const pingsAfter = receiver
        .messages()
        .slice(index + 1)
        .filter((m) => m === 'WATCHDOG=1');
      if (index >= 0 && pingsAfter.length >= 2) break;
      await delay(100);
    }
    // A second signal during the shutdown must be ignored, not end the process early. The kernel
    // merges a repeated pending signal into one, so the second one is a different signal.
    daemon.child.kill('SIGTERM');
    daemon.child.kill('SIGINT');
    assert.equal(await daemon.exited, 0, daemon.stderr());

    const messages = receiver.messages();
    const ready = readyIndex();
    const stopping = messages.findIndex((m) => m.startsWith('STOPPING=1'));
    assert.ok(ready >= 0, `READY=1 received: ${JSON.stringify(messages)}`);
    assert.match(
      messages[ready]!,
      /^READY=1\nSTATUS=running; status page on http:\/\/127\.0\.0\.1:/,
    );
    const pings = messages.slice(ready + 1, stopping).filter((m) => m === 'WATCHDOG=1');
    assert.ok(pings.length >= 2, `${pings.length} watchdog pings between READY and STOPPING`);
    assert.ok(stopping > ready, `STOPPING=1 after READY=1: ${JSON.stringify(messages)}`);
    assert.equal(messages.at(-1), 'STATUS=stopped');
    assert.match(daemon.stderr(), /already stopping; signal ignored/);
  });
});

describe('garbage database file at start', () => {
  const dataDir = (): string => join(tempDir, 'garbage-data');
  const garbage = Buffer.from('this is not an SQLite database, it was overwritten '.repeat(100));
  let daemon: RunningDaemon;

  before(async () => {
    mkdirSync(dataDir(), { recursive: true });
    writeFileSync(join(dataDir(), 'bv-edge.sqlite'), garbage);
    const config = writeConfig('garbage', {
      dataDir: dataDir(),
      capture: { source: { kind: 'test' } },
      // 10 TiB: far above the free space of any test machine, so recordings are rejected.
      storage: { minFreeMb: 10 * 1024 * 1024 },
    });
    daemon = await startDaemon(config);
  });

  after(async () => {
    if (daemon.child.exitCode === null) daemon.child.kill('SIGTERM');
    await daemon.exited;
  });

  test('file is moved aside and daemon serves', async () => {
    const moved = readdirSync(dataDir()).filter((name) =>
      name.startsWith('bv-edge.sqlite.corrupt-'),
    );
    assert.equal(moved.length, 1, `one quarantined file: ${readdirSync(dataDir()).join(', ')}`);
    assert.deepEqual(readFileSync(join(dataDir(), moved[0]!)), garbage);
    assert.match(daemon.stderr(), /database failed its integrity check/);
    const health = await fetch(new URL('healthz', daemon.url));
    assert.equal(health.status, 200);
    const { status, json } = await api<{ case: unknown }>(daemon.url, '');
    assert.equal(status, 200);
    assert.equal(json.case, null);
  });

  test('disk floor rejects a recording', async () => {
    const opened = await api(daemon.url, '/case', {
      caseId: 'disk-1',
      heightCm: 170,
      weightKg: 70,
      sex: 'male',
    });
    assert.equal(opened.status, 201, JSON.stringify(opened.json));
    // Errors come back as RFC 9457 problem details with the bv-edge code.
    const { status, json } = await api<Problem>(daemon.url, '/recording', {
      view: 'ivc',
    });
    assert.equal(status, 507, JSON.stringify(json));
    assert.equal(json.code, 'insufficient_storage');
    assert.match(json.detail, /Cannot record the IVC view: only \d+ MiB are free/);
    assert.equal(json.notice?.key, 'notice.ops.diskLow');
    assert.match(daemon.stderr(), /recording rejected: disk space low/);
  });
});

describe('SIGTERM during a scan', () => {
  test('case and accepted views survive', async () => {
    const config = writeConfig('scan', {
      dataDir: join(tempDir, 'scan-data'),
      capture: { source: { kind: 'phantom', view: 'ivc' } },
    });
    const first = await startDaemon(config);
    try {
      const opened = await api(first.url, '/case', {
        caseId: 'sigterm-1',
        heightCm: 165,
        weightKg: 62,
        sex: 'female',
      });
      assert.equal(opened.status, 201, JSON.stringify(opened.json));
      // 3.5 s covers the reference model's window of 32 frames at 10 Hz.
      await api(first.url, '/recording', { view: 'ivc', durationS: 3.5 });
      const review = await waitForStep(first.url, 'review');
      assert.equal(review.step, 'review');
      const accepted = await api<{ case: Snapshot }>(first.url, '/accept', {});
      assert.equal(accepted.status, 200, JSON.stringify(accepted.json));
      const started = await api(first.url, '/recording', { view: 'ijv', durationS: 30 });
      assert.equal(started.status, 202, JSON.stringify(started.json));
      await waitForStep(first.url, 'recording');
    } finally {
      first.child.kill('SIGTERM');
    }
    assert.equal(await first.exited, 0, first.stderr());

    const second = await startDaemon(config);
    try {
      const { json } = await api<{ case: Snapshot }>(second.url, '');
      assert.equal(json.case.caseId, 'sigterm-1');
      assert.deepEqual(Object.keys(json.case.accepted), ['ivc']);
      assert.equal(json.case.step, 'idle', 'the interrupted recording is not resumed');
      assert.ok(json.case.missingViews.includes('ijv'), `missing ${json.case.missingViews}`);
    } finally {
      second.child.kill('SIGTERM');
    }
    assert.equal(await second.exited, 0, second.stderr());
  });
});
