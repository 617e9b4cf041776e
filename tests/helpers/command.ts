import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

import type { CliResult } from './cli.ts';
import { repoRoot } from './data.ts';

/**
 * Runs the subcommand `exportName` of `modulePath` (relative to the repository root) as a child
 * process through command-main.ts, the way src/cli.ts would run it, and collects its output.
 */
export function runCommand(
  modulePath: string,
  exportName: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  const entry = resolve(repoRoot, 'tests/helpers/command-main.ts');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', entry, modulePath, exportName, ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, BV_EDGE_LOG_LEVEL: 'warn', ...env },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${exportName} ${args.join(' ')} timed out after ${timeoutMs} ms\n${stderr}`),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}
