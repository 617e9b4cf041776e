import { statSync } from 'node:fs';
import type { WorkerPlan } from './worker-protocol.ts';

/** The identity of one version of a file: a replaced file has a new inode or a new mtime. */
export interface FileIdentity {
  device: number;
  inode: number;
  mtimeMs: number;
  size: number;
}

/** Returns the identity of the file at `path`, or null when there is no regular file there. */
export function fileIdentity(path: string): FileIdentity | null {
  try {
    const info = statSync(path);
    if (!info.isFile()) return null;
    return { device: info.dev, inode: info.ino, mtimeMs: info.mtimeMs, size: info.size };
  } catch {
    return null;
  }
}

export function sameFile(a: FileIdentity | null, b: FileIdentity | null): boolean {
  return (
    a !== null &&
    b !== null &&
    a.device === b.device &&
    a.inode === b.inode &&
    a.mtimeMs === b.mtimeMs &&
    a.size === b.size
  );
}

/**
 * Checks the device node or file of a plan before GStreamer opens it, because GStreamer's
 * messages for a missing one ("Cannot identify device", "Resource not found") do not name the
 * config key to fix. Returns the problem, or null when the source is there.
 */
export function checkSource(plan: WorkerPlan): { code: string; message: string } | null {
  if (plan.device !== null && !isCharacterDevice(plan.device)) {
    return {
      code: 'capture_device_not_found',
      message:
        `Video device ${plan.device} not found. Check that the capture card is connected and ` +
        'that capture.source.device names it (ls /dev/video*).',
    };
  }
  if (plan.file !== null && fileIdentity(plan.file) === null) {
    return {
      code: 'capture_file_not_found',
      message: `Video file ${plan.file} not found. Check capture.source.path.`,
    };
  }
  return null;
}

function isCharacterDevice(path: string): boolean {
  try {
    return statSync(path).isCharacterDevice();
  } catch {
    return false;
  }
}
