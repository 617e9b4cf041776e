import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { stringify } from 'yaml';

import { repoRoot } from './data.ts';

const START_TIMEOUT_MS = 120_000;

/** A `bv-edge run` child process that printed its start-up line. */
export interface RunningDaemon {
  child: ChildProcess;
  /** Status page URL from the start-up line. */
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * Runs the real `bv-edge run` command as child processes with configs in one temporary folder.
 * The default broker URL is a closed port on 127.0.0.1, so nothing leaves the machine.
 * `cleanup()` kills every process still running and removes the folder.
 */
export class DaemonProcesses {
  private readonly children = new Set<ChildProcess>();

  private constructor(readonly dir: string) {}

  static async create(prefix: string): Promise<DaemonProcesses> {
    return new DaemonProcesses(await mkdtemp(join(tmpdir(), prefix)));
  }

  /** Writes `<dir>/<name>.yaml` with CPU inference, the closed broker and a free HTTP port. */
  writeConfig(name: string, settings: Record<string, unknown>): string {
    const path = join(this.dir, `${name}.yaml`);
    const config = {
      version: 2,
      providers: ['cpu'],
      mqtt: { url: 'mqtt://127.0.0.1:9' },
      http: { host: '127.0.0.1', port: 0 },
      ...settings,
    };
    writeFileSync(path, stringify(config));
    return path;
  }

  /** Kills `child` in `cleanup()` if it is still running then. */
  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  /**
   * Starts `bv-edge run --config FILE` with `args` after it (log level warn unless `env` sets
   * BV_EDGE_LOG_LEVEL) and waits for its start-up line.
   */
  async start(
    configPath: string,
    env: Record<string, string> = {},
    args: string[] = [],
  ): Promise<RunningDaemon> {
    const cli = resolve(repoRoot, 'src/cli.ts');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', cli, 'run', '--config', configPath, ...args],
      { cwd: repoRoot, env: { ...process.env, BV_EDGE_LOG_LEVEL: 'warn', ...env } },
    );
    this.track(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) =>
      child.once('exit', (code) => resolveExit(code)),
    );

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const match = /status page on (http:\/\/\S+)/.exec(stdout);
      if (match) return { child, url: match[1]!, stderr: () => stderr, exited };
      if (child.exitCode !== null) break;
      await delay(100);
    }
    child.kill('SIGKILL');
    throw new Error(`bv-edge run did not start (exit ${child.exitCode}):\n${stdout}\n${stderr}`);
  }

  async cleanup(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }
}
