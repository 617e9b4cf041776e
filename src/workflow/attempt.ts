import { randomUUID } from 'node:crypto';

import { detectImageArea } from '../capture/image-area.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { FrameSource } from '../core/frames.ts';
import type { ViewName } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import type { InferenceEngine } from '../inference/engine.ts';
import { analyseClip } from '../scan/view-scan.ts';
import {
  analysisIssue,
  checkRecording,
  pulsationIssue,
  recordingIssue,
  type QualityThresholds,
} from './quality.ts';
import type { RecordedClip } from './recorder.ts';
import type { QualityIssue, RecordingOptions, ViewAttempt } from './types.ts';

export interface AttemptContext {
  view: ViewName;
  options: RecordingOptions;
  source: FrameSource;
  engine: InferenceEngine;
  thresholds: QualityThresholds;
  logger: Logger;
}

/**
 * Turns a finished recording, or the error that ended it, into a checked attempt: the clip checks
 * first, then vessel tracking, measurements and the view model. Only errors that are not
 * BvEdgeErrors propagate; every expected failure becomes a failed attempt with its message.
 */
export async function buildAttempt(
  outcome: RecordedClip | BvEdgeError,
  context: AttemptContext,
): Promise<ViewAttempt> {
  const attemptId = randomUUID();
  const base = { attemptId, view: context.view, recordedAt: new Date().toISOString() };
  if (outcome instanceof BvEdgeError) {
    const issues = [recordingIssue(outcome)];
    return { ...base, endedBy: 'failure', options: context.options, ...failed(issues, null) };
  }

  const { clip } = outcome;
  const seed = context.options.seed;
  const imageArea = context.source.imageArea() ?? detectImageArea(clip, seed ? { near: seed } : {});
  const { figures, issues } = checkRecording(outcome, imageArea, context.view, context.thresholds);
  const attempt = { ...base, endedBy: outcome.endedBy, options: context.options };
  if (issues.length > 0) return { ...attempt, ...failed(issues, figures) };

  try {
    const result = await analyseClip(
      clip,
      { ...context.options, view: context.view, path: `live-${attemptId}`, imageArea },
      context.engine,
      context.logger,
    );
    const pulsation = pulsationIssue(result);
    if (pulsation) {
      context.logger.info({ view: context.view }, 'no pulsation found in the artery recording');
      return { ...attempt, ...failed([pulsation], figures) };
    }
    return { ...attempt, quality: { passed: true, issues: [], figures }, result };
  } catch (error) {
    if (!(error instanceof BvEdgeError)) throw error;
    context.logger.info({ err: error, view: context.view }, 'view analysis rejected the recording');
    return { ...attempt, ...failed([analysisIssue(error, context.view)], figures) };
  }
}

function failed(
  issues: QualityIssue[],
  figures: ViewAttempt['quality']['figures'],
): Pick<ViewAttempt, 'quality' | 'result'> {
  return { quality: { passed: false, issues, figures }, result: null };
}
