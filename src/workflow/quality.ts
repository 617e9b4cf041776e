import { BvEdgeError } from '../core/errors.ts';
import type { CaptureState } from '../core/frames.ts';
import { toGray, type Rect, type ViewName } from '../core/image.ts';
import type { ModelManifest } from '../inference/manifest.ts';
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

/** Advice to the operator for each capture state that interrupts a recording. */
const STATE_ADVICE: Partial<Record<CaptureState, string>> = {
  'no-signal': 'the video signal was lost. Check the video cable',
  frozen: 'the scanner image froze. Unfreeze the scanner',
  blank: 'the scanner image went blank. Check the scanner screen',
  error: 'video capture failed. Wait until the status shows a live image',
  stopped: 'video capture stopped. Wait until the status shows a live image',
};

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
  return { code, message: error.message };
}

/**
 * Turns an error of the vessel analysis into the operator's message. Its own messages name
 * command-line options, which the operator at the cart does not have.
 */
export function analysisIssue(error: BvEdgeError, view: ViewName): QualityIssue {
  switch (error.code) {
    case 'vessel_not_found':
      return {
        code: 'vessel_not_found',
        message:
          `No vessel found in the ${view} recording. Centre the vessel in the image, or tap ` +
          'the middle of its lumen to mark it, then record again.',
      };
    case 'vessel_lost':
      return {
        code: 'vessel_lost',
        message:
          `The ${view} lumen was lost in more than half of the frames. Hold the probe still ` +
          'over the vessel, or tap the middle of its lumen to mark it, then record again.',
      };
    case 'seed_outside_frame':
      return {
        code: 'seed_outside_frame',
        message: `The point marked for the ${view} lumen is outside the image. Tap inside the image.`,
      };
    default:
      return {
        code: 'analysis_failed',
        message: `Analysis of the ${view} recording failed: ${error.message}`,
      };
  }
}

/**
 * Rejects an artery view whose lumen showed no heart-rate pulsation, because then the tracked
 * lumen is most likely not the carotid artery, or the probe pressed it shut.
 */
export function pulsationIssue(result: ViewResult): QualityIssue | null {
  if (!ARTERY_VIEWS.has(result.view) || result.measurements.heartRateBpm !== undefined) return null;
  return {
    code: 'no_pulsation',
    message:
      `No heart-rate pulsation was found in the ${result.view} lumen, so the tracked vessel is ` +
      'probably not the carotid artery. Centre the carotid artery without pressing on it, or tap ' +
      'the middle of its lumen to mark it, then record again.',
  };
}

/** Views of an artery, whose lumen must pulse with the heart rate. */
const ARTERY_VIEWS: ReadonlySet<ViewName> = new Set(['ca']);

function stateIssue(state: CaptureState, view: ViewName): QualityIssue | null {
  const advice = STATE_ADVICE[state];
  if (!advice) return null;
  return {
    code: state === 'frozen' ? 'frozen' : 'source_not_live',
    message: `During the ${view} recording ${advice}, then record again.`,
  };
}

function durationIssue(
  figures: QualityFigures,
  view: ViewName,
  thresholds: QualityThresholds,
): QualityIssue | null {
  if (figures.durationS >= thresholds.minDurationS) return null;
  return {
    code: 'too_short',
    message:
      `The ${view} recording lasted ${figures.durationS.toFixed(1)} s; at least ` +
      `${thresholds.minDurationS.toFixed(1)} s is needed. Record again and let it run to the end.`,
  };
}

function frozenIssue(
  figures: QualityFigures,
  view: ViewName,
  thresholds: QualityThresholds,
): QualityIssue | null {
  if (figures.longestFrozenS <= thresholds.maxFrozenS) return null;
  return {
    code: 'frozen',
    message:
      `The image did not change for ${figures.longestFrozenS.toFixed(1)} s of the ${view} ` +
      'recording, so the scanner looks frozen. Unfreeze the scanner and record again.',
  };
}

function motionIssue(
  figures: QualityFigures,
  view: ViewName,
  thresholds: QualityThresholds,
): QualityIssue | null {
  if (figures.minSimilarity < thresholds.minSimilarity) {
    return {
      code: 'probe_moved',
      message:
        `The image changed during the ${view} recording, as if the probe was lifted or moved ` +
        'to other anatomy. Hold the probe still on the vessel and record again.',
    };
  }
  if (figures.maxShiftFraction > thresholds.maxShiftFraction) {
    const percent = Math.round(figures.maxShiftFraction * 100);
    return {
      code: 'probe_moved',
      message:
        `The image moved by ${percent} % of its size during the ${view} recording. Hold the ` +
        'probe still on the vessel and record again.',
    };
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
