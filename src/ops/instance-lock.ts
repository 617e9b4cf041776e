import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';

/** Name of the lock file in the data folder. */
export const LOCK_FILE_NAME = 'bv-edge.lock';

/** Linux boot id; a lock written before the last reboot is stale whatever its PID. */
const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

/** The owner recorded in a lock file. */
interface LockOwner {
  pid: number;
  /** Boot id of the machine when the lock was taken; null where the system has none. */
  bootId: string | null;
}

/** A held lock; `release()` removes the file unless another process has taken it over. */
export interface InstanceLock {
  readonly path: string;
  release(): void;
}

export interface InstanceLockOptions {
  logger: Logger;
  /** This process's id; default process.pid. */
  pid?: number;
  /** Tells whether a process runs; default `process.kill(pid, 0)`. */
  isRunning?: (pid: number) => boolean;
  /** Reads the current boot id; default /proc/sys/kernel/random/boot_id, null when unreadable. */
  readBootId?: () => string | null;
}

/**
 * Takes the single-instance lock of the daemon on `dataDir`: the file `dataDir/bv-edge.lock`,
 * created exclusively (open flag 'wx') with this process's PID and boot id. A lock whose process
 * has exited, or that was written before the last reboot, is taken over with a warning. Throws
 * BvEdgeError `daemon_running` when a live daemon has it. Only `bv-edge run` takes this lock,
 * so one-shot commands that share the database (scan, label) still run beside the daemon.
 */
export function acquireInstanceLock(dataDir: string, options: InstanceLockOptions): InstanceLock {
  const path = join(dataDir, LOCK_FILE_NAME);
  const self: LockOwner = {
    pid: options.pid ?? process.pid,
    bootId: (options.readBootId ?? readBootId)(),
  };
  const isRunning = options.isRunning ?? processRuns;
  mkdirSync(dataDir, { recursive: true });
  // Two attempts: the second follows the removal of a stale lock, and fails if another daemon
  // took the lock over in between.
  for (let attempt = 0; attempt < 2; attempt++) {
    if (tryCreate(path, self)) return heldLock(path, self.pid);
    const owner = readOwner(path);
    if (owner !== null && owner.pid !== self.pid && !isStale(owner, self, isRunning)) {
      throw new BvEdgeError(
        'daemon_running',
        `Another bv-edge daemon (PID ${owner.pid}) is already running on the data folder ` +
          `${dataDir}. Stop it first, or give this one a different dataDir in its config.`,
        { value: owner.pid },
      );
    }
    options.logger.warn(
      { path, stalePid: owner?.pid ?? null },
      'taking over a stale daemon lock; its process is not running',
    );
    unlinkIfPresent(path);
  }
  throw new BvEdgeError(
    'daemon_running',
    `Could not take the daemon lock ${path}: another bv-edge daemon took it at the same time. ` +
      'Stop the other daemon first.',
    { value: path },
  );
}

function tryCreate(path: string, owner: LockOwner): boolean {
  try {
    writeFileSync(path, `${owner.pid}\n${owner.bootId ?? ''}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new BvEdgeError(
      'lock_failed',
      `Failed to create the daemon lock ${path}: ${(error as Error).message}. ` +
        'Check that the data folder is writable by this user.',
      { value: path, cause: error },
    );
  }
}

/** Reads the owner of a lock file; null when the file is gone, empty or not a lock. */
function readOwner(path: string): LockOwner | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const [pidText, bootId] = text.split('\n');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return { pid, bootId: bootId ? bootId : null };
}

/**
 * Checks whether a lock is stale: its process has exited, or it was written under another boot
 * id. PIDs start over at each boot, so an unrelated process may have the recorded one.
 */
function isStale(owner: LockOwner, self: LockOwner, isRunning: (pid: number) => boolean): boolean {
  if (owner.bootId !== null && self.bootId !== null && owner.bootId !== self.bootId) return true;
  return !isRunning(owner.pid);
}

function heldLock(path: string, pid: number): InstanceLock {
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      // A lock taken over by another daemon (this one was thought dead) stays with that daemon.
      if (readOwner(path)?.pid === pid) unlinkIfPresent(path);
    },
  };
}

/** Signal 0 checks that the process exists; EPERM means it exists under another user. */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readBootId(): string | null {
  try {
    return readFileSync(BOOT_ID_PATH, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
