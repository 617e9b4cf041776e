import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { BvEdgeError } from '../core/errors.ts';
import { VIEW_NAMES, type ViewName } from '../core/image.ts';
import { notice } from '../notices/index.ts';
import { ensurePhantomClips, type PhantomClipFile } from '../phantom/index.ts';
import type { Logger } from '../core/log.ts';

/**
 * Checks the phantom clips in `dir` and generates those that are missing or damaged, as
 * ensurePhantomClips does. Throws `source_not_live` when a clip can be neither read nor written
 * again, such as a folder in its place. The error's notice names the path and the fix, so that a
 * recording is rejected with that reason instead of an internal error.
 */
export async function preparePhantomClips(
  dir: string,
  logger: Logger,
): Promise<Record<ViewName, PhantomClipFile>> {
  try {
    return await ensurePhantomClips(dir, { logger });
  } catch (cause) {
    const path = unusableClipPath(cause, dir);
    const detail = (cause as Error).message.replace(/\.$/, '');
    const reason = notice('notice.capture.clipUnusable', { path, detail });
    throw new BvEdgeError('source_not_live', reason, { value: path, cause });
  }
}

/**
 * Returns the file that a failure of ensurePhantomClips concerns. That is a clip or truth file
 * that is not a readable regular file, else the file that the error names, else the clip folder.
 * The files are checked first because a read of a folder fails with EISDIR without its path.
 */
function unusableClipPath(cause: unknown, dir: string): string {
  for (const view of VIEW_NAMES) {
    for (const path of [join(dir, `${view}.mp4`), join(dir, `${view}.truth.json`)]) {
      if (isUnusable(path)) return path;
    }
  }
  if (cause instanceof BvEdgeError && typeof cause.value === 'string') return cause.value;
  const { path, dest } = cause as NodeJS.ErrnoException & { dest?: unknown };
  const named = typeof dest === 'string' ? dest : path;
  // A failed rename of a freshly written `<file>.partial` concerns `<file>`.
  return typeof named === 'string' ? named.replace(/\.partial$/, '') : dir;
}

/** Returns true when `path` is something other than a readable regular file, false when absent. */
function isUnusable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return true;
    accessSync(path, constants.R_OK);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
