import type { CaptureState } from '../core/frames.ts';
import type { Rect } from '../core/image.ts';
import type { Notice } from '../core/notice.ts';
import type { EstimateMessage } from '../mqtt/payload.ts';
import type { BundlesInfo } from '../ota/index.ts';
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
  /** The active and the previous model bundle, in the daemon only. */
  bundles?: BundlesInfo;
  /** The loaded model bundle, in the daemon only. */
  model?: ModelSummary;
  /** Connection to the anesthesia system over HL7; absent when no HL7 link is built in. */
  hl7?: Hl7Summary;
  /** Free space on the data folder's file system, bytes; null when it could not be read. */
  diskFreeBytes?: number | null;
  /**
   * Whether new recordings are rejected because free space is below storage.minFreeMb, or could
   * not be read; absent where no disk guard runs.
   */
  diskLow?: boolean;
}

export interface ModelSummary {
  name: string;
  version: string;
  intendedUse: string;
  /** The model's notice by language tag, beside the English one that each estimate carries. */
  noticeTranslations?: Readonly<Record<string, string>>;
}

/** States of the HL7 link; the page translates each. `idle`: no message was sent yet. */
export type Hl7State = 'disabled' | 'idle' | 'connecting' | 'connected' | 'disconnected' | 'error';

export interface Hl7Summary {
  state: Hl7State;
  /** A sentence for the log and the API, e.g. the last error; the page does not show it. */
  detail: string | null;
  /**
   * Config hl7.allowResearchPush. When false, estimates of bundles whose intended use is not
   * clinical are withheld, and the page shows this when the MRN is entered. Absent when HL7 is off.
   */
  researchPushAllowed?: boolean;
}

export interface CaptureSummary {
  state: CaptureState;
  /** Measured frame rate, frames per second. */
  fps: number;
  /** Frames dropped since capture started because the daemon fell behind. */
  framesDropped?: number;
  /** Reason that the state is not live, with the fix where one is known; null when live. */
  reason?: string | null;
  /** The same reason as a notice, for the page to show in its language; null when live. */
  reasonNotice?: Notice | null;
  /** Ultrasound image area in source pixels, or null while it is not known yet. */
  imageArea?: Rect | null;
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
  bundles: BundlesInfo | null;
  model: ModelSummary | null;
  hl7: Hl7Summary | null;
  diskFreeBytes: number | null;
  /** As StatusSnapshot.diskLow; false where no disk guard runs. */
  diskLow: boolean;
}
