import { BvEdgeError } from '../core/errors.ts';
import type { GrayFrame, Point } from '../core/image.ts';
import { segmentLumen } from './segment.ts';
import { clampedWindow, cropToFloat, gaussianBlurInPlace } from './raster.ts';
import type { LumenMask, LumenTrack, SegmentOptions, TrackedLumen, TrackOptions } from './types.ts';

/** Consecutive area jumps of about the same size after which the new size is accepted as real. */
const JUMP_CONFIRM_FRAMES = 3;
/** Areas within this factor of each other count as the same size when confirming a jump. */
const JUMP_AGREEMENT = 1.5;

/** Smallest radius searched for a lumen that moved out of reach of the seed, px. */
const MIN_REACQUIRE_RADIUS_PX = 24;

/** Failures that, right after a small lumen, mean the vein has closed rather than been lost. */
const COLLAPSE_FAILURES = new Set(['no-dark-pixel', 'too-small', 'low-contrast']);

interface TrackState {
  /** Seed of the most recent frame whose lumen was found and contained that seed. */
  lastGoodSeed: Point;
  previous?: TrackedLumen;
  /** Largest accepted area so far, px. */
  maxArea: number;
  /** Most recent accepted lumen with a non-zero area. */
  lastAccepted?: TrackedLumen;
  threshold?: number;
  /** Consecutive frames rejected as area jumps, most recent last. */
  jumps: TrackedLumen[];
}

/**
 * Segments the lumen frame by frame. Each frame is seeded at the previous lumen's centroid. When
 * that point is not inside the new lumen, the last seed that was inside a lumen is tried
 * instead. When neither finds the lumen, it is searched for around the last centroid, since
 * breathing can move a vein further between frames than the seed search reaches. The first found
 * frame's threshold is reused unless `reuseThreshold` is false.
 *
 * A frame is lost (`found: false`) when no lumen is found, or when its area is more than
 * `maxAreaGrowth` times the largest area accepted so far (a leak), until three such frames in a
 * row agree on the new size. A shrinking area is never rejected, because veins collapse, and a
 * reopening vein may regain any size up to that limit. When no lumen is found right after one of
 * at most `collapseFraction` of the largest area (or after a collapsed frame), the vein is taken
 * as fully collapsed: found, area 0, at the previous centroid.
 */
export function trackLumen(
  frames: GrayFrame[],
  seed: Point,
  options: TrackOptions = {},
): LumenTrack {
  if (frames.length === 0) {
    throw new BvEdgeError(
      'no_frames',
      'Cannot track a lumen in an empty clip; pass at least one frame.',
    );
  }
  const state: TrackState = {
    lastGoodSeed: { ...seed },
    maxArea: 0,
    threshold: options.threshold,
    jumps: [],
  };
  const perFrame: TrackedLumen[] = [];
  for (const frame of frames) {
    const outcome = trackFrame(frame, state, options);
    perFrame.push(outcome.tracked);
    updateState(state, outcome, options);
  }
  const foundCount = perFrame.filter((lumen) => lumen.found).length;
  return {
    perFrame,
    trackedFraction: foundCount / frames.length,
    threshold: state.threshold ?? Number.NaN,
  };
}

interface FrameOutcome {
  tracked: TrackedLumen;
  threshold: number;
  /** True when the seed lies inside the accepted lumen. */
  seedInside: boolean;
}

function trackFrame(frame: GrayFrame, state: TrackState, options: TrackOptions): FrameOutcome {
  const segmentOptions = { ...options, threshold: state.threshold };
  const seeds = candidateSeeds(state);
  const results: { lumen: LumenMask; seed: Point }[] = [];
  for (const seed of seeds) {
    const lumen = segmentLumen(frame, seed, segmentOptions);
    if (lumen.found && containsPoint(lumen, seed)) {
      return {
        tracked: judgeArea(lumen, seed, state, options),
        threshold: lumen.threshold,
        seedInside: true,
      };
    }
    results.push({ lumen, seed });
  }
  const fallback = results.find((result) => result.lumen.found);
  if (fallback) {
    const tracked = judgeArea(fallback.lumen, fallback.seed, state, options);
    return { tracked, threshold: fallback.lumen.threshold, seedInside: false };
  }
  const { lumen, seed } = results[0]!;
  if (!wasNearlyClosed(state, options)) {
    const reacquired = reacquire(frame, state, segmentOptions, options);
    if (reacquired) return reacquired;
  }
  return {
    tracked: judgeMissing(lumen, seed, state, options),
    threshold: lumen.threshold,
    seedInside: false,
  };
}

/**
 * Looks for a lumen that moved further than the seed search reaches, as a vessel does when the
 * tissue shifts with breathing. Segments from the darkest smoothed pixel within twice the last
 * lumen's equivalent radius (at least 24 px) of its centroid. Accepts the result when its area
 * is within a factor of `maxAreaGrowth` of the last accepted area, either way.
 */
function reacquire(
  frame: GrayFrame,
  state: TrackState,
  segmentOptions: SegmentOptions,
  options: TrackOptions,
): FrameOutcome | undefined {
  const last = state.lastAccepted;
  if (!last) return undefined;
  const radius = Math.max(
    MIN_REACQUIRE_RADIUS_PX,
    Math.round(2 * Math.sqrt(last.areaPx / Math.PI)),
  );
  const sigma = options.smoothingSigmaPx ?? 2;
  const seed = darkestPoint(frame, last.centroid, radius, sigma);
  const lumen = segmentLumen(frame, seed, segmentOptions);
  const growth = options.maxAreaGrowth ?? 3;
  const similar = lumen.areaPx * growth >= last.areaPx && lumen.areaPx <= growth * last.areaPx;
  if (!lumen.found || !similar) return undefined;
  return { tracked: toTracked(lumen, seed), threshold: lumen.threshold, seedInside: true };
}

/** Returns the darkest pixel of the smoothed frame within `radius` px of `centre`. */
function darkestPoint(frame: GrayFrame, centre: Point, radius: number, sigma: number): Point {
  const window = clampedWindow(centre.x, centre.y, radius, frame.width, frame.height);
  const smoothed = cropToFloat(frame.data, frame.width, window);
  gaussianBlurInPlace(smoothed, sigma);
  let bestIndex = -1;
  let bestValue = Infinity;
  for (let y = 0; y < smoothed.height; y++) {
    for (let x = 0; x < smoothed.width; x++) {
      const dx = x + smoothed.x0 - centre.x;
      const dy = y + smoothed.y0 - centre.y;
      const value = smoothed.data[y * smoothed.width + x]!;
      if (dx * dx + dy * dy > radius * radius || value >= bestValue) continue;
      bestValue = value;
      bestIndex = y * smoothed.width + x;
    }
  }
  if (bestIndex < 0) return { x: Math.round(centre.x), y: Math.round(centre.y) };
  const x = bestIndex % smoothed.width;
  return { x: x + smoothed.x0, y: (bestIndex - x) / smoothed.width + smoothed.y0 };
}

function candidateSeeds(state: TrackState): Point[] {
  const previous = state.previous;
  if (!previous?.found || previous.collapsed) return [state.lastGoodSeed];
  const centroid = { x: Math.round(previous.centroid.x), y: Math.round(previous.centroid.y) };
  const same = centroid.x === state.lastGoodSeed.x && centroid.y === state.lastGoodSeed.y;
  return same ? [centroid] : [centroid, state.lastGoodSeed];
}

function containsPoint(lumen: LumenMask, point: Point): boolean {
  const x = Math.round(point.x);
  const y = Math.round(point.y);
  return lumen.mask[y * lumen.width + x] === 1;
}

/** Accepts the lumen, or marks it lost when its area jumped past the allowed growth. */
function judgeArea(
  lumen: LumenMask,
  seed: Point,
  state: TrackState,
  options: TrackOptions,
): TrackedLumen {
  const tracked = toTracked(lumen, seed);
  const growth = options.maxAreaGrowth ?? 3;
  if (state.maxArea === 0 || lumen.areaPx <= growth * state.maxArea) return tracked;
  if (confirmsJump(state.jumps, lumen.areaPx)) return tracked;
  return { ...tracked, found: false, failure: 'area-jump' };
}

/** True when the frames just rejected as jumps, with this one, agree on one new size. */
function confirmsJump(jumps: readonly TrackedLumen[], area: number): boolean {
  const recent = jumps.slice(-(JUMP_CONFIRM_FRAMES - 1));
  if (recent.length < JUMP_CONFIRM_FRAMES - 1) return false;
  return recent.every((jump) => {
    const ratio = jump.areaPx / area;
    return ratio <= JUMP_AGREEMENT && ratio >= 1 / JUMP_AGREEMENT;
  });
}

/** Reports a frame without a lumen as collapsed when the vein was nearly closed, else as lost. */
function judgeMissing(
  lumen: LumenMask,
  seed: Point,
  state: TrackState,
  options: TrackOptions,
): TrackedLumen {
  const previous = state.previous;
  if (
    !previous ||
    !wasNearlyClosed(state, options) ||
    !COLLAPSE_FAILURES.has(lumen.failure ?? '')
  ) {
    return toTracked(lumen, seed);
  }
  const at = { ...previous.centroid };
  return {
    found: true,
    collapsed: true,
    areaPx: 0,
    centroid: at,
    bbox: { x: Math.round(at.x), y: Math.round(at.y), width: 0, height: 0 },
    apDiameterPx: 0,
    lateralDiameterPx: 0,
    seed,
  };
}

/** True when the previous frame was collapsed or at most `collapseFraction` of the max area. */
function wasNearlyClosed(state: TrackState, options: TrackOptions): boolean {
  const previous = state.previous;
  if (previous?.found !== true) return false;
  const collapseFraction = options.collapseFraction ?? 0.25;
  return previous.collapsed || previous.areaPx <= collapseFraction * state.maxArea;
}

function toTracked(lumen: LumenMask, seed: Point): TrackedLumen {
  const tracked: TrackedLumen = {
    found: lumen.found,
    collapsed: false,
    areaPx: lumen.areaPx,
    centroid: lumen.centroid,
    bbox: lumen.bbox,
    apDiameterPx: lumen.apDiameterPx,
    lateralDiameterPx: lumen.lateralDiameterPx,
    seed,
  };
  if (lumen.failure) tracked.failure = lumen.failure;
  return tracked;
}

function updateState(state: TrackState, outcome: FrameOutcome, options: TrackOptions): void {
  const { tracked } = outcome;
  state.previous = tracked;
  if (tracked.failure === 'area-jump') {
    state.jumps.push(tracked);
    return;
  }
  state.jumps = [];
  if (!tracked.found || tracked.collapsed) return;
  state.maxArea = Math.max(state.maxArea, tracked.areaPx);
  state.lastAccepted = tracked;
  if (outcome.seedInside) state.lastGoodSeed = { ...tracked.seed };
  if (state.threshold === undefined && options.reuseThreshold !== false) {
    state.threshold = outcome.threshold;
  }
}
