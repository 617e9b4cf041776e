import { BvEdgeError } from '../core/errors.ts';
import type { CaptureState } from '../core/frames.ts';
import { isViewName, VIEW_NAMES, type Point, type ViewName } from '../core/image.ts';
import type { Notice } from '../core/notice.ts';
import type { ModelManifest } from '../inference/manifest.ts';
import { notice } from '../notices/index.ts';
import type { RecordingOptions, WorkflowStep } from './types.ts';

// Checks that reject an operator action the workflow cannot take now. Each message names what to
// do instead. Invalid transitions have code invalid_transition, bad input invalid_request.

export function invalidTransition(message: Notice, value?: unknown): BvEdgeError {
  return new BvEdgeError('invalid_transition', message, { value });
}

function invalidRequest(message: Notice, value: unknown): BvEdgeError {
  return new BvEdgeError('invalid_request', message, { value });
}

/** An operator action, named in the notices that reject it (`notice.workflow.action.<name>`). */
export type WorkflowAction =
  'openCase' | 'recordView' | 'acceptView' | 'retakeView' | 'closeCase' | 'abandonCase';

/** Returns the view param of a notice; none when no view is active. */
function viewParams(view: ViewName | null): Record<string, string> {
  return view ? { view } : {};
}

/** Returns what the operator must finish first in `step`. */
export function busyNotice(step: WorkflowStep, view: ViewName | null): Notice {
  return notice(`notice.workflow.busy.${step}`, viewParams(view));
}

/** Returns why `action` is not possible in `step`, and what the operator must finish first. */
export function notNowNotice(
  action: WorkflowAction,
  step: WorkflowStep,
  view: ViewName | null,
): Notice {
  return notice(`notice.workflow.notNow.${step}`, { action, ...viewParams(view) });
}

/** Returns why nothing can be retaken in `step`. */
export function nothingToRetakeNotice(step: WorkflowStep, view: ViewName | null): Notice {
  return notice(`notice.workflow.nothingToRetake.${step}`, viewParams(view));
}

/**
 * Numbers the items of a list as params `<name>1`, `<name>2`, … for the notices that have one key
 * per list length, and returns that length. Lists are at most VIEW_NAMES.length (4) long.
 */
export function listParams(
  name: string,
  items: readonly string[],
): { count: 1 | 2 | 3 | 4; params: Record<string, string> } {
  const shown = items.slice(0, VIEW_NAMES.length);
  const params = Object.fromEntries(shown.map((item, index) => [`${name}${index + 1}`, item]));
  return { count: Math.max(1, shown.length) as 1 | 2 | 3 | 4, params };
}

export function checkView(view: unknown): ViewName {
  if (typeof view === 'string' && isViewName(view)) return view;
  const params = { view: String(JSON.stringify(view)), views: VIEW_NAMES.join(', ') };
  throw invalidRequest(notice('notice.workflow.unknownView', params), view);
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

/**
 * Returns the form of a range in notices, "range" ("a number 1–30 cm") or "rangeAbove" ("a number
 * above 0 and at most 5 mm"), and its params min, max and unit.
 */
export function rangeNotice({ min, max, unit, minExclusive }: InputRange): {
  form: 'range' | 'rangeAbove';
  params: { min: number; max: number; unit: string };
} {
  return { form: minExclusive ? 'rangeAbove' : 'range', params: { min, max, unit } };
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
    throw invalidRequest(notice('notice.workflow.invalidSeed', { x: seed.x, y: seed.y }), seed);
  }
  if (seed && frameSize) checkSeedInFrame(seed, frameSize);
  for (const field of ['depthCm', 'mmPerPixel', 'durationS'] as const) {
    const value = options[field];
    const range = RECORDING_LIMITS[field];
    if (value !== undefined && !inRange(value, range)) {
      const { form, params } = rangeNotice(range);
      const invalid = notice(`notice.workflow.invalidOption.${form}`, { field, value, ...params });
      throw invalidRequest(invalid, value);
    }
  }
}

/**
 * Rejects a requested duration shorter than the quality check's minimum for the view, because
 * such a recording could never pass. `minDurationS` is the view model's input window by default.
 */
export function checkRecordingDuration(durationS: number | undefined, minDurationS: number): void {
  if (durationS === undefined || durationS >= minDurationS) return;
  const params = { durationS, minDurationS: Math.round(minDurationS * 10) / 10 };
  throw invalidRequest(notice('notice.workflow.durationTooShort', params), durationS);
}

function checkSeedInFrame(seed: Point, { width, height }: { width: number; height: number }) {
  if (seed.x >= 0 && seed.x < width && seed.y >= 0 && seed.y < height) return;
  const params = { x: seed.x, y: seed.y, width, height, maxX: width - 1, maxY: height - 1 };
  throw invalidRequest(notice('notice.workflow.seedOutside', params), seed);
}

/**
 * Capture states in which a recording cannot start. Each has a notice
 * `notice.workflow.notRecordable.<state>` that gives the operator the next step.
 */
const NOT_RECORDABLE = ['no-signal', 'frozen', 'blank', 'error', 'stopped'] as const;

function isNotRecordable(state: CaptureState): state is (typeof NOT_RECORDABLE)[number] {
  return (NOT_RECORDABLE as readonly CaptureState[]).includes(state);
}

export function checkSourceRecordable(state: CaptureState, view: ViewName): void {
  if (!isNotRecordable(state)) return;
  const rejected = notice(`notice.workflow.notRecordable.${state}`, { view });
  throw new BvEdgeError('source_not_live', rejected, { value: state });
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
