/**
 * `bv-edge run` as a user starts it: time from spawn to the start-up line and to a 200 from
 * /readyz, and the resident memory of the daemon and its capture process while a looped phantom
 * source plays.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const CLI = resolve(repoRoot, 'src/cli.ts');
const START_TIMEOUT_MS = 180_000;
/** Length of the phantom source's clip, s: the phantom default of 6 s at 30 frames per second. */
export const PHANTOM_CLIP_SECONDS = 6;

export interface DaemonConfigOptions {
  dataDir: string;
  brokerUrl: string;
}

/** Writes a config for `bv-edge run`: CPU inference, a looped real-time phantom IVC source. */
export function writeDaemonConfig(path: string, options: DaemonConfigOptions): void {
  const config = {
    version: 2,
    providers: ['cpu'],
    dataDir: options.dataDir,
    mqtt: { url: options.brokerUrl },
    http: { host: '127.0.0.1', port: 0 },
    capture: { source: { kind: 'phantom', view: 'ivc', loop: true, realTime: true } },
  };
  writeFileSync(path, stringify(config));
}

export interface RunningDaemon {
  child: ChildProcess;
  /** From spawn to the "bv-edge running" line, ms. */
  runningMs: number;
  /** From spawn to the first 200 from /readyz, ms. */
  readyMs: number;
  url: string;
  stop(): Promise<void>;
}

/** Starts `bv-edge run --config FILE` and waits until /readyz returns 200. */
export async function startDaemon(configPath: string): Promise<RunningDaemon> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'run', '--config', configPath], {
    cwd: repoRoot,
    env: { ...process.env, BV_EDGE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const deadline = started + START_TIMEOUT_MS;
    let url: string | null = null;
    let runningMs = 0;
    while (performance.now() < deadline) {
      if (child.exitCode !== null) break;
      if (!url) {
        const match = /bv-edge running; status page on (http:\/\/\S+)/.exec(stdout);
        if (match) {
          url = match[1]!;
          runningMs = performance.now() - started;
        }
      }
      if (url && (await isReady(url))) {
        return { child, runningMs, readyMs: performance.now() - started, url, stop };
      }
      await delay(20);
    }
    throw new Error(
      `bv-edge run was not ready within ${START_TIMEOUT_MS / 1000} s ` +
        `(exit code ${child.exitCode}): ${stderr.trim() || stdout.trim()}`,
    );
  } catch (error) {
    await stop();
    throw error;
  }
}

async function isReady(base: string): Promise<boolean> {
  try {
    const response = await fetch(new URL('readyz', base));
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Runs `bv-edge ARGS` to its exit and returns the wall time, ms. */
export async function timeCli(args: string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: repoRoot,
    stdio: 'ignore',
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`bv-edge ${args.join(' ')} exited with code ${code}`);
  return performance.now() - started;
}

/** Resident set size of process `pid` from /proc, MiB; null when it has exited. */
export function residentMib(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Pids of the direct children of `pid`, from /proc. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name in brackets may contain spaces, so fields are counted after its ")".
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) children.push(Number(entry));
    } catch {
      // The process exited between the listing and the read.
    }
  }
  return children;
}

export interface MemorySample {
  /** 0 at ready, then the number of loops played. */
  loop: number;
  daemonMib: number;
  /** Sum over the daemon's child processes (the capture process), MiB. */
  childrenMib: number;
}

/** Samples the resident memory of a daemon and its children. */
export function sampleMemory(pid: number, loop: number): MemorySample {
  const childrenMib = childPids(pid)
    .map((child) => residentMib(child) ?? 0)
    .reduce((sum, value) => sum + value, 0);
  return { loop, daemonMib: residentMib(pid) ?? Number.NaN, childrenMib };
}

/**
 * Samples memory at ready and after each of `loops` plays of the real-time phantom clip. The
 * daemon reports no loop count, so a loop is counted by wall time: one clip length per loop.
 */
export async function sampleLoopedMemory(
  daemon: RunningDaemon,
  loops: number,
): Promise<MemorySample[]> {
  const pid = daemon.child.pid!;
  const samples = [sampleMemory(pid, 0)];
  for (let loop = 1; loop <= loops; loop++) {
    await delay(PHANTOM_CLIP_SECONDS * 1000);
    if (daemon.child.exitCode !== null) {
      throw new Error(`bv-edge run exited with code ${daemon.child.exitCode} during loop ${loop}`);
    }
    samples.push(sampleMemory(pid, loop));
  }
  return samples;
}
