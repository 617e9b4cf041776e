import type { Notice } from '../core/notice.ts';

/** The pipeline and settings of one capture process, passed as its one argument in JSON. */
export interface WorkerPlan {
  /** gst-launch description that ends in `appsink name=sink`. */
  launch: string;
  /** String properties set on named elements after parsing, such as paths and URLs. */
  properties: { element: string; name: string; value: string }[];
  /** Video file that is checked before each loop, or null for live sources. */
  file: string | null;
  /** Device node that must exist before the pipeline starts, or null. */
  device: string | null;
  loop: boolean;
  /**
   * Whether frames arrive in real time (live sources, files played at their rate). Then the
   * frame queue drops its oldest frame when full; otherwise the pipeline waits for the daemon.
   */
  realTime: boolean;
  /** Frames queued for the daemon before the oldest is dropped. */
  queueFrames: number;
  /** Interval between heartbeat messages, ms. */
  heartbeatMs: number;
}

/** Counters of the capture process since it started. */
export interface WorkerStats {
  /** Frames taken from the appsink. */
  pulled: number;
  /** Frames written to the frame pipe. */
  sent: number;
  /** Frames dropped from the full queue, oldest first. */
  dropped: number;
  /** Frames that the appsink itself dropped as late, from its stats. */
  sinkDropped: number;
  rssBytes: number;
  /** User plus system CPU time of the whole process, GStreamer threads included, µs. */
  cpuMicros: number;
}

/** Messages from the capture process over the IPC channel. */
export type WorkerMessage =
  | { type: 'playing' }
  | { type: 'caps'; width: number; height: number; framerate: string | null }
  | { type: 'heartbeat'; stats: WorkerStats }
  | { type: 'loop'; count: number }
  | { type: 'warning'; message: string }
  /** A failure of the pipeline, with its reason as a notice for the page. */
  | { type: 'error'; code: string; notice: Notice; stats: WorkerStats }
  | { type: 'end-of-stream'; stats: WorkerStats };

/** Exit code of a capture process that built its pipeline limit and wants to be replaced. */
export const EXIT_RECYCLE = 75;
