import { statfsSync } from 'node:fs';

import { CaptureService } from '../capture/service.ts';
import type { FrameSource } from '../core/frames.ts';
import type { CaptureSummary } from './types.ts';

/**
 * State, frame rate, image area and, from the capture service, dropped frames and the reason for
 * a state other than live, for the status snapshot.
 */
export function captureSummary(source: FrameSource): CaptureSummary {
  const summary: CaptureSummary = {
    state: source.state,
    fps: source.fps,
    imageArea: source.imageArea(),
  };
  // Only the capture service counts dropped frames; test sources drop none.
  if (source instanceof CaptureService) {
    summary.framesDropped = source.status().framesDropped;
    summary.reason = source.reason;
    summary.reasonNotice = source.reasonNotice;
  }
  return summary;
}

/** Free space for unprivileged writers on the file system of `path`, bytes; null on error. */
export function diskFreeBytes(path: string): number | null {
  try {
    const stats = statfsSync(path);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}
