import { BvEdgeError } from '../core/errors.ts';
import type { CaptureState } from '../core/frames.ts';
import { isViewName, VIEW_NAMES, type ViewName } from '../core/image.ts';
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

/** Checks the operator's per-recording settings; the ranges match the scan command's. */
export function checkRecordingOptions(options: RecordingOptions): void {
  const { seed, depthCm, mmPerPixel, durationS } = options;
  if (seed && (!Number.isFinite(seed.x) || !Number.isFinite(seed.y))) {
    throw invalidRequest(`Invalid seed (${seed.x}, ${seed.y}): expected pixel coordinates.`, seed);
  }
  if (depthCm !== undefined && !(depthCm >= 1 && depthCm <= 30)) {
    throw invalidRequest(`Invalid depth ${depthCm} cm: expected 1–30 cm.`, depthCm);
  }
  if (mmPerPixel !== undefined && !(mmPerPixel > 0 && mmPerPixel <= 5)) {
    throw invalidRequest(`Invalid pixel spacing ${mmPerPixel} mm: expected 0–5 mm.`, mmPerPixel);
  }
  if (durationS !== undefined && !(durationS > 0 && durationS <= 60)) {
    throw invalidRequest(`Invalid recording duration ${durationS} s: expected 0–60 s.`, durationS);
  }
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
