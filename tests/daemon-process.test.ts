import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { BvEdgeError } from '../src/core/errors.ts';
import { silentLogger } from '../src/core/log.ts';
import { acquireInstanceLock, LOCK_FILE_NAME } from '../src/ops/index.ts';
import { runCli } from './helpers/cli.ts';
import { DaemonProcesses, type RunningDaemon } from './helpers/daemon-process.ts';

// These tests run the real `bv-edge run` command as a child process.

let processes: DaemonProcesses;
let tempDir = '';

before(async () => {
  processes = await DaemonProcesses.create('bv-edge-daemon-process-');
  tempDir = processes.dir;
});

after(async () => {
  await processes.cleanup();
});

/** Writes a config whose data folder is `<name>-data` and whose source is videotestsrc. */
function writeConfig(name: string, settings: Record<string, unknown>): string {
  return processes.writeConfig(name, {
    dataDir: join(tempDir, `${name}-data`),
    capture: { source: { kind: 'test' } },
    ...settings,
  });
}

/** Starts the daemon at log level info, because some tests read its log lines. */
function startDaemon(configPath: string): Promise<RunningDaemon> {
  return processes.start(configPath, { BV_EDGE_LOG_LEVEL: 'info' });
}

async function stopDaemon(daemon: RunningDaemon): Promise<number | null> {
  daemon.child.kill('SIGTERM');
  return daemon.exited;
}

/** Returns the PID of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolveExit) => child.once('exit', resolveExit));
  return child.pid!;
}

function stderrLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim() !== '');
}

describe('second daemon on one data folder', () => {
  const config = (): string => join(tempDir, 'lock.yaml');
  const dataDir = (): string => join(tempDir, 'lock-data');
  let first: RunningDaemon | null = null;

  before(async () => {
    writeConfig('lock', {});
    first = await startDaemon(config());
  });

  after(async () => {
    if (first?.child.exitCode === null) await stopDaemon(first);
  });

  test('lock file holds the daemon PID', () => {
    const text = readFileSync(join(dataDir(), LOCK_FILE_NAME), 'utf8');
    assert.equal(text.split('\n')[0], String(first!.child.pid));
  });

  test('second daemon exits with one line', async () => {
    const second = await runCli(['run', '--config', config()], { BV_EDGE_LOG_LEVEL: 'info' });
    assert.equal(second.code, 1, second.stderr);
    const lines = stderrLines(second.stderr);
    assert.equal(lines.length, 1, `one line on stderr, got:\n${second.stderr}`);
    assert.ok(lines[0]!.startsWith('bv-edge: '), lines[0]);
    assert.ok(lines[0]!.includes(dataDir()), `names the data folder: ${lines[0]}`);
    assert.ok(lines[0]!.includes(`PID ${first!.child.pid}`), `names the PID: ${lines[0]}`);
    assert.equal(second.stdout, '', 'the second daemon printed no start-up line');
  });

  test('data-dir option overrides the file', async () => {
    const other = join(tempDir, 'other-data');
    // Its own data folder passes the lock that the first daemon holds on the file's folder.
    const second = await processes.start(config(), {}, ['--data-dir', other]);
    const lock = readFileSync(join(other, LOCK_FILE_NAME), 'utf8');
    assert.equal(lock.split('\n')[0], String(second.child.pid));
    assert.equal(await stopDaemon(second), 0);
  });

  test('run help prints the usage', async () => {
    const help = await runCli(['run', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /bv-edge run \[--config FILE\] \[--data-dir DIR\]/);
  });

  test('first daemon still serves', async () => {
    const response = await fetch(new URL('healthz', first!.url));
    assert.equal(response.status, 200);
    assert.equal(first!.child.exitCode, null, 'the first daemon is still running');
  });

  test('one-shot command runs beside it', async () => {
    const result = await runCli(['model', 'list', '--config', config()]);
    assert.equal(result.code, 0, result.stderr);
  });

  test('log lines name one subsystem', () => {
    const lines = stderrLines(first!.stderr());
    const captureLines = lines.filter((line) => line.includes('"subsystem":"capture"'));
    assert.ok(captureLines.length > 0, `capture logged at info level:\n${lines.join('\n')}`);
    for (const line of lines) {
      const count = line.split('"subsystem":').length - 1;
      assert.ok(count <= 1, `subsystem named ${count} times: ${line}`);
    }
  });

  test('stop removes the lock', async () => {
    assert.equal(await stopDaemon(first!), 0, first!.stderr());
    assert.equal(existsSync(join(dataDir(), LOCK_FILE_NAME)), false, 'lock file left behind');
  });
});

describe('stale lock', () => {
  test('daemon takes it over', async () => {
    const config = writeConfig('stale', {});
    const dataDir = join(tempDir, 'stale-data');
    mkdirSync(dataDir, { recursive: true });
    const pid = await deadPid();
    writeFileSync(join(dataDir, LOCK_FILE_NAME), `${pid}\n`);
    const daemon = await startDaemon(config);
    try {
      const lock = readFileSync(join(dataDir, LOCK_FILE_NAME), 'utf8');
      assert.equal(lock.split('\n')[0], String(daemon.child.pid));
      assert.ok(
        daemon.stderr().includes('taking over a stale daemon lock'),
        `takeover logged:\n${daemon.stderr()}`,
      );
    } finally {
      assert.equal(await stopDaemon(daemon), 0, daemon.stderr());
    }
  });

  test('lock from another boot is stale', () => {
    const dataDir = join(tempDir, 'boot-data');
    mkdirSync(dataDir, { recursive: true });
    // The recorded PID runs (it is this test's), but under another boot id it is another process.
    writeFileSync(join(dataDir, LOCK_FILE_NAME), `${process.pid}\nold-boot\n`);
    const lock = acquireInstanceLock(dataDir, {
      logger: silentLogger(),
      pid: 4242,
      readBootId: () => 'this-boot',
      isRunning: () => true,
    });
    assert.equal(readFileSync(lock.path, 'utf8'), '4242\nthis-boot\n');
    lock.release();
    assert.equal(existsSync(lock.path), false, 'release removes the lock');
  });

  test('live lock is rejected', () => {
    const dataDir = join(tempDir, 'live-data');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, LOCK_FILE_NAME), '777\nthis-boot\n');
    assert.throws(
      () =>
        acquireInstanceLock(dataDir, {
          logger: silentLogger(),
          pid: 4242,
          readBootId: () => 'this-boot',
          isRunning: (pid) => pid === 777,
        }),
      (error: unknown) =>
        error instanceof BvEdgeError &&
        error.code === 'daemon_running' &&
        error.message.includes('PID 777') &&
        error.message.includes(dataDir),
    );
    assert.equal(readFileSync(join(dataDir, LOCK_FILE_NAME), 'utf8'), '777\nthis-boot\n');
  });
});

describe('HTTP port in use', () => {
  let blocker: Server | null = null;

  after(async () => {
    await new Promise((resolveClose) => blocker?.close(resolveClose));
  });

  test('daemon exits with one line', async () => {
    blocker = createServer();
    await new Promise<void>((resolveListen) => blocker!.listen(0, '127.0.0.1', resolveListen));
    const { port } = blocker.address() as { port: number };
    const config = writeConfig('port', { http: { host: '127.0.0.1', port } });
    const dataDir = join(tempDir, 'port-data');
    const result = await runCli(['run', '--config', config]);
    assert.equal(result.code, 1, result.stderr);
    const lines = stderrLines(result.stderr);
    assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
    assert.ok(lines[0]!.includes(`127.0.0.1:${port}`), `names the address: ${lines[0]}`);
    assert.ok(lines[0]!.includes('http.port'), `names the config key: ${lines[0]}`);
    assert.ok(!lines[0]!.includes('unexpected error'), lines[0]);
    // The check runs before the store opens and the broker connects.
    assert.equal(existsSync(join(dataDir, 'bv-edge.sqlite')), false, 'the store was opened');
    assert.equal(existsSync(join(dataDir, LOCK_FILE_NAME)), false, 'lock file left behind');
  });
});

describe('readiness reasons', () => {
  const clip = (): string => join(tempDir, 'damaged.mp4');
  let daemon: RunningDaemon | null = null;

  before(async () => {
    // The first kilobyte of an MP4 file: a header and no playable stream.
    writeFileSync(clip(), Buffer.concat([Buffer.from('\0\0\0\x20ftypisom'), Buffer.alloc(1000)]));
    const config = writeConfig('ready', {
      capture: { source: { kind: 'file', path: clip() } },
      // 10 TiB: more than any test machine has free.
      storage: { minFreeMb: 10 * 1024 * 1024 },
    });
    daemon = await startDaemon(config);
  });

  after(async () => {
    if (daemon?.child.exitCode === null) await stopDaemon(daemon);
  });

  test('readyz names the disk floor', async () => {
    const response = await fetch(new URL('readyz', daemon!.url));
    assert.equal(response.status, 503);
    const body = (await response.json()) as { ready: boolean; reasons: string[] };
    assert.equal(body.ready, false);
    const disk = body.reasons.find((reason) => reason.includes('storage.minFreeMb'));
    assert.ok(disk, `a disk reason among: ${body.reasons.join(' | ')}`);
  });

  test('capture error names the file', async () => {
    let capture: { state: string; reason?: string | null } | null = null;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const status = (await (await fetch(new URL('api/status', daemon!.url))).json()) as {
        capture: { state: string; reason?: string | null } | null;
      };
      capture = status.capture;
      if (capture?.state === 'error') break;
      await delay(250);
    }
    assert.equal(capture?.state, 'error', `capture state: ${JSON.stringify(capture)}`);
    assert.ok(capture?.reason?.includes(clip()), `reason names the file: ${capture?.reason}`);
    assert.ok(
      capture?.reason?.includes('capture.source.path'),
      `names the key: ${capture?.reason}`,
    );
    const ready = (await (await fetch(new URL('readyz', daemon!.url))).json()) as {
      reasons: string[];
    };
    const reason = ready.reasons.find((text) => text.startsWith('Capture is error'));
    assert.ok(reason?.includes(clip()), `readyz names the file: ${ready.reasons.join(' | ')}`);
  });
});
