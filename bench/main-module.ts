import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Checks whether the module at `moduleUrl` is the script Node was started with, so that a benchmark
 * file runs its own command line only when run directly and not when the runner imports it.
 */
export function isMainModule(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
