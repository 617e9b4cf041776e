import type { CaptureState } from '../core/frames.ts';
import type { EstimateMessage } from '../mqtt/payload.ts';
import type { ScanRecord } from '../scan/types.ts';
import type { OutboxStats } from '../store/outbox.ts';

/** Daemon state shown by the status page and /api/status, read once per request. */
export interface StatusSnapshot {
  latestScan: ScanRecord | null;
  outbox: OutboxStats;
  mqttConnected: boolean;
  /** ISO 8601 time the daemon started. */
  startedAt: string;
  /** Live capture, in the daemon only; absent for the one-shot demo. */
  capture?: CaptureSummary;
  /** Execution provider of each model, e.g. { ijv: 'cpu', fusion: 'cpu' }. */
  executionProviders?: Readonly<Record<string, string>>;
}

export interface CaptureSummary {
  state: CaptureState;
  /** Measured frame rate, frames per second. */
  fps: number;
}

/** Body of GET /api/status. */
export interface StatusResponse {
  startedAt: string;
  mqtt: { connected: boolean };
  outbox: OutboxStats;
  /** The latest estimate in the same shape as the MQTT payload, or null before the first scan. */
  latestEstimate: EstimateMessage | null;
  capture: CaptureSummary | null;
  executionProviders: Readonly<Record<string, string>> | null;
}
