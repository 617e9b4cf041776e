/** A description of the machine and software that a benchmark ran on. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import Database from 'better-sqlite3';
import { onnxruntimeVersion } from '../src/inference/load.ts';
import { MOSQUITTO_PATH } from '../tests/helpers/mosquitto.ts';

/** Returns the value of the first `/proc/cpuinfo` line that starts with `key`. */
function cpuinfoField(key: string): string | null {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((text) => text.startsWith(key));
    return line ? line.slice(line.indexOf(':') + 1).trim() : null;
  } catch {
    return null;
  }
}

function memTotalGib(): string {
  try {
    const match = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    return match ? `${(Number(match[1]) / 2 ** 20).toFixed(1)} GiB` : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs a version command and returns the first match of `pattern`, or "not found". */
function commandVersion(file: string, args: string[], pattern: RegExp): string {
  try {
    // mosquitto -h exits with code 3 after printing its version, so stdout is read either way.
    const output = execFileSync(file, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return pattern.exec(output)?.[0] ?? 'unknown';
  } catch (error) {
    const output = String((error as { stdout?: unknown }).stdout ?? '');
    return pattern.exec(output)?.[0] ?? 'not found';
  }
}

function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return (db.prepare('select sqlite_version() as version').get() as { version: string }).version;
  } finally {
    db.close();
  }
}

/** Describes this machine and the versions in use as (property, value) rows. */
export function describeMachine(): [string, string][] {
  const cores = cpus();
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');
  return [
    ['CPU', cpuinfoField('model name') ?? cores[0]?.model ?? 'unknown'],
    ['Cores (logical, as Node sees them)', String(cores.length)],
    ['Memory', memTotalGib()],
    ['Kernel', release()],
    ['Node', process.version],
    ['onnxruntime-node', onnxruntimeVersion()],
    ['GStreamer', commandVersion('gst-launch-1.0', ['--version'], /GStreamer \S+/)],
    ['mosquitto', commandVersion(MOSQUITTO_PATH, ['-h'], /mosquitto version \S+/)],
    ['SQLite (better-sqlite3)', sqliteVersion()],
    ['Load average at start (1, 5, 15 min)', load],
  ];
}
