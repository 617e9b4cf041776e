import type { Point, ViewName } from '../core/image.ts';
import type { Notice } from '../core/notice.ts';
import type { Covariates, Estimate, ViewResult } from '../scan/types.ts';

/**
 * Steps of an open case. `idle`: waiting for the operator to record a view. `recording`: frames
 * are being collected. `analysing`: quality check and view inference run. `review`: an attempt
 * waits for the operator to accept it or retake it.
 */
export const WORKFLOW_STEPS = ['idle', 'recording', 'analysing', 'review'] as const;
export type WorkflowStep = (typeof WORKFLOW_STEPS)[number];

/** Status of a workflow case: `open` while it is scanned, then how it ended. */
export const CASE_STATUSES = ['open', 'closed', 'abandoned'] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];

/** Operator input that opens a case. Covariates are raw, as typed, and checked on open. */
export interface OpenCaseRequest {
  /** Pseudonymous case id (a study code, never a name or MRN). */
  caseId: string;
  heightCm?: string | number;
  weightKg?: string | number;
  sex?: string;
  ageYears?: string | number;
  /** Preoperative hemoglobin, g/dL; the study-population check needs it. */
  hbPreopGdl?: string | number;
}

/** Per-recording settings the operator may give with a view. */
export interface RecordingOptions {
  /** A point inside the lumen, in source pixels; found automatically when absent. */
  seed?: Point;
  /** Imaging depth shown by the scanner, cm; sets mm per pixel. */
  depthCm?: number;
  /** Known pixel spacing, mm per source pixel; takes precedence over `depthCm`. */
  mmPerPixel?: number;
  /** Recording length for this view, s; default the configured duration. */
  durationS?: number;
}

/** Stable reasons a recording fails the quality check. */
export type QualityCode =
  | 'too_short'
  | 'frozen'
  | 'probe_moved'
  | 'no_signal'
  | 'source_not_live'
  | 'frame_size_changed'
  | 'vessel_not_found'
  | 'vessel_lost'
  | 'seed_outside_frame'
  | 'no_pulsation'
  | 'analysis_failed';

export interface QualityIssue {
  code: QualityCode;
  /** A sentence for the operator: what is wrong and what to do, in English. */
  message: string;
  /** The message as a notice, for the page to show in its language. */
  notice: Notice;
}

/** Figures the quality check measured on one recording. */
export interface QualityFigures {
  frameCount: number;
  /** Recorded length, s. */
  durationS: number;
  /** Measured frame rate of the recording, frames per second. */
  fps: number;
  /** Maximum run of identical consecutive frames, s. */
  longestFrozenS: number;
  /** Largest shift of the image against the first frame, as a share of the image area side. */
  maxShiftFraction: number;
  /** Lowest correlation of a frame with the first frame after that shift, −1 to 1. */
  minSimilarity: number;
}

export interface QualityReport {
  passed: boolean;
  issues: QualityIssue[];
  /** Null when the recording failed before any frame was checked. */
  figures: QualityFigures | null;
}

/** One recording of a view and what the quality check and the view model made of it. */
export interface ViewAttempt {
  attemptId: string;
  view: ViewName;
  /** ISO 8601 time the recording ended. */
  recordedAt: string;
  endedBy: 'duration' | 'operator' | 'failure';
  options: RecordingOptions;
  quality: QualityReport;
  /** Measurements and view-model features; null when the quality check failed. */
  result: ViewResult | null;
}

/** The estimate of an open case from the views accepted so far. */
export interface CaseEstimate {
  /** UUID that the stored estimate and its MQTT message keep when the case is closed. */
  estimateId: string;
  /** Views that went into the estimate; the others were masked. */
  views: ViewName[];
  estimate: Estimate;
}

/** A recording in progress. */
export interface RecordingProgress {
  view: ViewName;
  /** Recorded so far, s of source time. */
  elapsedS: number;
  durationS: number;
  frameCount: number;
}

/** Everything the page or the CLI shows of the open case. */
export interface CaseSnapshot {
  caseId: string;
  status: CaseStatus;
  step: WorkflowStep;
  openedAt: string;
  covariates: Covariates;
  hbPreopGdl?: number;
  /** Views that must be accepted before the estimate and the close. */
  requiredViews: ViewName[];
  /** Required views not accepted yet. */
  missingViews: ViewName[];
  /** The view being recorded, analysed or reviewed; null when idle. */
  activeView: ViewName | null;
  recording: RecordingProgress | null;
  /** The attempt waiting for accept or retake. */
  pendingAttempt: ViewAttempt | null;
  accepted: Partial<Record<ViewName, ViewResult>>;
  estimate: CaseEstimate | null;
  /** Something the operator should know that no step shows, e.g. a recording lost to a restart. */
  notice: Notice | null;
}
