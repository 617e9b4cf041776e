import { statSync } from 'node:fs';
import type { Notice } from '../core/notice.ts';
import { notice } from '../notices/index.ts';
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

/** A failure of capture: a code for logs and tests, and the reason for the person. */
export interface CaptureFailure {
  code: string;
  notice: Notice;
}

/**
 * Checks the device node or file of a plan before GStreamer opens it, because GStreamer's
 * messages for a missing one ("Cannot identify device", "Resource not found") do not name the
 * config key to fix. Returns the problem, or null when the source is there.
 */
export function checkSource(plan: WorkerPlan): CaptureFailure | null {
  if (plan.device !== null && !isCharacterDevice(plan.device)) {
    return {
      code: 'capture_device_not_found',
      notice: notice('notice.capture.deviceNotFound', { device: plan.device }),
    };
  }
  if (plan.file !== null && fileIdentity(plan.file) === null) {
    return {
      code: 'capture_file_not_found',
      notice: notice('notice.capture.fileNotFound', { path: plan.file }),
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

/** The source that failed, as the capture service resolved it from the config. */
export interface FailedSource {
  /** The video file GStreamer read, or null for a device or stream. */
  file: string | null;
  /** True when the file is a generated phantom clip rather than capture.source.path. */
  phantom: boolean;
}

/**
 * Adds the video file and the fix to a GStreamer error about a file source, because GStreamer
 * names only its element (e.g. "This file contains no playable streams (element qtdemux0)").
 * Failures of other sources, and reasons that already name a config key, are returned unchanged.
 */
export function explainCaptureFailure(failure: CaptureFailure, source: FailedSource): Notice {
  const { code } = failure;
  if (source.file === null || code === 'capture_file_not_found') return failure.notice;
  if (code !== 'pipeline_error' && code !== 'capture_process_exited') return failure.notice;
  const params = { detail: failure.notice.text.replace(/\.$/, ''), path: source.file };
  return notice(
    source.phantom ? 'notice.capture.phantomClipDamaged' : 'notice.capture.fileUnplayable',
    params,
  );
}
