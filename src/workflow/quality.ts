import { BvEdgeError } from '../core/errors.ts';
import type { CaptureState } from '../core/frames.ts';
import { toGray, type Rect, type ViewName } from '../core/image.ts';
import { plainNotice, type Notice } from '../core/notice.ts';
import type { ModelManifest } from '../inference/manifest.ts';
import { notice } from '../notices/index.ts';
import type { ViewResult } from '../scan/types.ts';
import { longestFrozenRunS, measureMotion } from './frame-checks.ts';
import type { RecordedClip } from './recorder.ts';
import type { WorkflowSettings } from './settings.ts';
import type { QualityFigures, QualityIssue } from './types.ts';

export interface QualityThresholds {
  minDurationS: number;
  maxFrozenS: number;
  maxShiftFraction: number;
  minSimilarity: number;
}

/**
 * Capture states that interrupt a recording. Each has a notice
 * `notice.workflow.quality.state.<state>` that gives the operator the next step.
 */
const INTERRUPTING_STATES = ['no-signal', 'frozen', 'blank', 'error', 'stopped'] as const;

function isInterrupting(state: CaptureState): state is (typeof INTERRUPTING_STATES)[number] {
  return (INTERRUPTING_STATES as readonly CaptureState[]).includes(state);
}

/** Builds an issue whose English message is the text of its notice. */
function issue(code: QualityIssue['code'], message: Notice): QualityIssue {
  return { code, message: message.text, notice: message };
}

/** Rounds a figure to 0.1 for a notice, which the page then formats for its language. */
function tenths(value: number): number {
  return Math.round(value * 10) / 10;
}

/**
 * Measures a recorded clip and lists what makes it unusable (too short, frozen, probe moved, the
 * source not live), before the vessel is looked for. An empty list means the clip may be analysed.
 */
export function checkRecording(
  recorded: RecordedClip,
  area: Rect,
  view: ViewName,
  thresholds: QualityThresholds,
): { figures: QualityFigures; issues: QualityIssue[] } {
  const { clip } = recorded;
  const gray = clip.frames.map(toGray);
  const motion = measureMotion(gray, clip.timestampsS, area);
  const figures: QualityFigures = {
    frameCount: clip.frames.length,
    durationS: clip.frames.length / clip.fps,
    fps: clip.fps,
    longestFrozenS: longestFrozenRunS(gray, clip.timestampsS, area),
    ...motion,
  };
  const issues = [
    ...recorded.statesSeen.map((state) => stateIssue(state, view)),
    durationIssue(figures, view, thresholds),
    frozenIssue(figures, view, thresholds),
    motionIssue(figures, view, thresholds),
  ].filter((issue): issue is QualityIssue => issue !== null);
  return { figures, issues };
}

/** Turns a recording failure (no frame, a size change) into the operator's message. */
export function recordingIssue(error: BvEdgeError): QualityIssue {
  const code = error.code === 'frame_size_changed' ? 'frame_size_changed' : 'no_signal';
  return issue(code, error.notice ?? plainNotice(error.message));
}

/**
 * Turns an error of the vessel analysis into the operator's message. Its own messages name
 * command-line options, which the operator at the cart does not have.
 */
export function analysisIssue(error: BvEdgeError, view: ViewName): QualityIssue {
  switch (error.code) {
    case 'vessel_not_found':
      return issue('vessel_not_found', notice('notice.workflow.quality.vesselNotFound', { view }));
    case 'vessel_lost':
      return issue('vessel_lost', notice('notice.workflow.quality.vesselLost', { view }));
    case 'seed_outside_frame':
      return issue(
        'seed_outside_frame',
        notice('notice.workflow.quality.seedOutsideImage', { view }),
      );
    default: {
      // NOTE: the reason stays English, because the analysis errors have no notices.
      const params = { view, reason: error.message };
      return issue('analysis_failed', notice('notice.workflow.quality.analysisFailed', params));
    }
  }
}

/**
 * Rejects an artery view whose lumen showed no heart-rate pulsation, because then the tracked
 * lumen is most likely not the carotid artery, or the probe pressed it shut.
 */
export function pulsationIssue(result: ViewResult): QualityIssue | null {
  if (!ARTERY_VIEWS.has(result.view) || result.measurements.heartRateBpm !== undefined) return null;
  const view = result.view;
  return issue('no_pulsation', notice('notice.workflow.quality.noPulsation', { view }));
}

/** Views of an artery, whose lumen must pulse with the heart rate. */
const ARTERY_VIEWS: ReadonlySet<ViewName> = new Set(['ca']);

function stateIssue(state: CaptureState, view: ViewName): QualityIssue | null {
  if (!isInterrupting(state)) return null;
  const code = state === 'frozen' ? 'frozen' : 'source_not_live';
  return issue(code, notice(`notice.workflow.quality.state.${state}`, { view }));
}

function durationIssue(
  figures: QualityFigures,
  view: ViewName,
  thresholds: QualityThresholds,
): QualityIssue | null {
  if (figures.durationS >= thresholds.minDurationS) return null;
  const params = {
    view,
    durationS: tenths(figures.durationS),
    minDurationS: tenths(thresholds.minDurationS),
  };
  return issue('too_short', notice('notice.workflow.quality.tooShort', params));
}

function frozenIssue(
  figures: QualityFigures,
  view: ViewName,
  thresholds: QualityThresholds,
): QualityIssue | null {
  if (figures.longestFrozenS <= thresholds.maxFrozenS) return null;
  const params = { view, frozenS: tenths(figures.longestFrozenS) };
  return issue('frozen', notice('notice.workflow.quality.frozenFor', params));
}

function motionIssue(
  figures: QualityFigures,
  view: ViewName,
  thresholds: QualityThresholds,
): QualityIssue | null {
  if (figures.minSimilarity < thresholds.minSimilarity) {
    return issue('probe_moved', notice('notice.workflow.quality.probeMoved', { view }));
  }
  if (figures.maxShiftFraction > thresholds.maxShiftFraction) {
    const percent = Math.round(figures.maxShiftFraction * 100);
    const shifted = notice('notice.workflow.quality.imageShifted', { view, percent });
    return issue('probe_moved', shifted);
  }
  return null;
}

/**
 * Returns the thresholds for one view. The shortest passing recording defaults to the view
 * model's input window, because with a shorter clip the model repeats its last frame.
 */
export function qualityThresholds(
  settings: WorkflowSettings,
  manifest: ModelManifest,
  view: ViewName,
): QualityThresholds {
  const input = manifest.views[view].input;
  return {
    minDurationS: settings.minDurationS ?? input.frames / input.rateHz,
    maxFrozenS: settings.maxFrozenS,
    maxShiftFraction: settings.maxShiftFraction,
    minSimilarity: settings.minSimilarity,
  };
}
