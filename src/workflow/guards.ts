import { BvEdgeError } from '../core/errors.ts';
import type { CaptureState } from '../core/frames.ts';
import { isViewName, VIEW_NAMES, type Point, type ViewName } from '../core/image.ts';
import type { ModelManifest } from '../inference/manifest.ts';
import type { RecordingOptions, WorkflowStep } from './types.ts';

// Checks that reject an operator action the workflow cannot take now. Each message names what to
// do instead. Invalid transitions have code invalid_transition, bad input invalid_request.

export function invalidTransition(message: string, value?: unknown): BvEdgeError {
  return new BvEdgeError('invalid_transition', message, { value });
}

function invalidRequest(message: string, value: unknown): BvEdgeError {
  return new BvEdgeError('invalid_request', message, { value });
}

/** Returns what the operator must finish first in `step`, as a sentence. */
export function busyMessage(step: WorkflowStep, view: ViewName | null): string {
  switch (step) {
    case 'recording':
      return `The ${view} view is being recorded. Stop the recording or wait for it to end.`;
    case 'analysing':
      return `The ${view} recording is being analysed. Wait for its quality check.`;
    case 'review':
      return `The ${view} recording waits for review. Accept it or retake it first.`;
    case 'idle':
      return 'No recording is in progress or under review.';
  }
}

export function checkView(view: unknown): ViewName {
  if (typeof view === 'string' && isViewName(view)) return view;
  throw invalidRequest(
    `Unknown view ${JSON.stringify(view)}: expected one of ${VIEW_NAMES.join(', ')}.`,
    view,
  );
}

/** A numeric input range; the lower bound is excluded when `minExclusive` is set. */
export interface InputRange {
  min: number;
  max: number;
  unit: string;
  minExclusive?: boolean;
}

/** Accepted per-recording settings, shared by the API schema and the workflow's own check. */
export const RECORDING_LIMITS = {
  depthCm: { min: 1, max: 30, unit: 'cm' },
  mmPerPixel: { min: 0, max: 5, unit: 'mm', minExclusive: true },
  durationS: { min: 0, max: 60, unit: 's', minExclusive: true },
} as const satisfies Record<string, InputRange>;

/** Describes a range for messages, e.g. "a number 1–30 cm" or "a number above 0 and at most 5 mm". */
export function rangeText({ min, max, unit, minExclusive }: InputRange): string {
  return minExclusive
    ? `a number above ${min} and at most ${max} ${unit}`
    : `a number ${min}–${max} ${unit}`;
}

export function inRange(value: number, { min, max, minExclusive }: InputRange): boolean {
  return Number.isFinite(value) && (minExclusive ? value > min : value >= min) && value <= max;
}

/**
 * Checks the operator's per-recording settings; the ranges match the scan command's. The seed is
 * checked against `frameSize`, the size of the latest source frame, when one has arrived.
 */
export function checkRecordingOptions(
  options: RecordingOptions,
  frameSize: { width: number; height: number } | null = null,
): void {
  const { seed } = options;
  if (seed && (!Number.isFinite(seed.x) || !Number.isFinite(seed.y))) {
    throw invalidRequest(`Invalid seed (${seed.x}, ${seed.y}): expected pixel coordinates.`, seed);
  }
  if (seed && frameSize) checkSeedInFrame(seed, frameSize);
  for (const field of ['depthCm', 'mmPerPixel', 'durationS'] as const) {
    const value = options[field];
    const range = RECORDING_LIMITS[field];
    if (value !== undefined && !inRange(value, range)) {
      throw invalidRequest(`Invalid ${field} ${value}: expected ${rangeText(range)}.`, value);
    }
  }
}

/**
 * Rejects a requested duration shorter than the quality check's minimum for the view, because
 * such a recording could never pass. `minDurationS` is the view model's input window by default.
 */
export function checkRecordingDuration(durationS: number | undefined, minDurationS: number): void {
  if (durationS === undefined || durationS >= minDurationS) return;
  throw invalidRequest(
    `Invalid durationS ${durationS}: the quality check needs at least ` +
      `${minDurationS.toFixed(1)} s for this view. Record for ${minDurationS.toFixed(1)} s or longer.`,
    durationS,
  );
}

function checkSeedInFrame(seed: Point, { width, height }: { width: number; height: number }) {
  if (seed.x >= 0 && seed.x < width && seed.y >= 0 && seed.y < height) return;
  throw invalidRequest(
    `Invalid seed (${seed.x}, ${seed.y}): it lies outside the ${width}×${height} video frame. ` +
      `Give x 0–${width - 1} and y 0–${height - 1} pixels, or leave the seed out.`,
    seed,
  );
}

/** Capture states in which a recording cannot start, with what the operator should do. */
const NOT_RECORDABLE: Partial<Record<CaptureState, string>> = {
  'no-signal': 'there is no video signal. Check the video cable from the scanner',
  frozen: 'the scanner image is frozen. Unfreeze the scanner',
  blank: 'the scanner image is blank. Check the scanner screen',
  error: 'video capture failed. Wait until the status shows a live image',
  stopped: 'video capture is stopped. Wait until the status shows a live image',
};

export function checkSourceRecordable(state: CaptureState, view: ViewName): void {
  const advice = NOT_RECORDABLE[state];
  if (!advice) return;
  throw new BvEdgeError(
    'source_not_live',
    `Cannot record the ${view} view: ${advice}, then record again.`,
    { value: state },
  );
}

/**
 * Resolves the configured required views against the model bundle: the bundle's own required
 * views must be among them, because the fusion model cannot mask those.
 */
export function resolveRequiredViews(
  configured: ViewName[] | undefined,
  manifest: ModelManifest,
): ViewName[] {
  const required = configured ?? manifest.requiredViews;
  const missing = manifest.requiredViews.filter((view) => !required.includes(view));
  if (missing.length > 0) {
    throw new BvEdgeError(
      'invalid_config',
      `workflow.requiredViews [${required.join(', ')}] leaves out ${missing.join(', ')}, which ` +
        `model ${manifest.name} ${manifest.version} requires. Add ${missing.join(', ')} to it.`,
      { value: required },
    );
  }
  return VIEW_NAMES.filter((view) => required.includes(view));
}
