import type { RayProfiles } from './radial.ts';

/** Tuning of the lumen contour search; distances in pixels. */
export interface ContourSettings {
  /** Edge strength at radius r: the profile at r + offset minus the profile at r − offset. */
  edgeOffsetPx: number;
  /** Smallest radius the contour may take. */
  minRadiusPx: number;
  /** Largest change of radius between neighbouring rays. */
  maxStepPx: number;
  /** Score lost per pixel of radius change between neighbouring rays (edge scores are 0–1). */
  stepPenalty: number;
  /** How far past the first sample at or above the barrier level a ray's radius may go. */
  barrierSlackPx: number;
  /** Weight of the penalty on grey tissue inside the contour, in units of the strongest edge. */
  darknessWeight: number;
}

export const DEFAULT_CONTOUR_SETTINGS: ContourSettings = {
  edgeOffsetPx: 2,
  minRadiusPx: 2,
  maxStepPx: 6,
  stepPenalty: 0.05,
  barrierSlackPx: 2,
  darknessWeight: 0.5,
};

const FORBIDDEN = -1e9;

/**
 * Finds the closed star-shaped lumen contour around the rays' centre by dynamic programming: one
 * radius per ray that maximises the summed dark-to-bright edge strength minus penalties on grey
 * tissue inside the contour and on radius changes between neighbouring rays. Where the wall echo
 * is missing the contour bridges the gap smoothly instead of leaking out, and no ray may pass its
 * first bright sample (at or above `barrierLevel`) by more than the slack. Returns one radius per
 * ray, px.
 */
export function traceContour(
  profiles: RayProfiles,
  barrierLevel: number,
  settings: ContourSettings = DEFAULT_CONTOUR_SETTINGS,
): Float32Array {
  const scores = edgeScores(profiles, barrierLevel, settings);
  const { rayCount, length } = profiles;
  // Two turns round the centre: the first settles the path, the second closes it.
  const steps = 2 * rayCount;
  const back = new Int16Array(steps * length);
  let total = scores.slice(0, length);
  let next = new Float32Array(length);
  for (let step = 1; step < steps; step++) {
    const rayOffset = (step % rayCount) * length;
    for (let radius = 0; radius < length; radius++) {
      const own = scores[rayOffset + radius]!;
      if (own <= FORBIDDEN) {
        next[radius] = FORBIDDEN;
        continue;
      }
      const best = bestPredecessor(total, radius, settings);
      next[radius] = total[best]! - settings.stepPenalty * Math.abs(best - radius) + own;
      back[step * length + radius] = best;
    }
    [total, next] = [next, total];
  }
  return backtrack(total, back, rayCount, length);
}

function bestPredecessor(total: Float32Array, radius: number, settings: ContourSettings): number {
  let best = radius;
  let bestValue = -Infinity;
  const low = Math.max(0, radius - settings.maxStepPx);
  const high = Math.min(total.length - 1, radius + settings.maxStepPx);
  for (let previous = low; previous <= high; previous++) {
    const value = total[previous]! - settings.stepPenalty * Math.abs(previous - radius);
    if (value > bestValue) {
      bestValue = value;
      best = previous;
    }
  }
  return best;
}

function backtrack(total: Float32Array, back: Int16Array, rayCount: number, length: number) {
  let radius = 0;
  for (let r = 1; r < length; r++) if (total[r]! > total[radius]!) radius = r;
  const radii = new Float32Array(rayCount);
  for (let step = 2 * rayCount - 1; step >= rayCount; step--) {
    radii[step % rayCount] = radius;
    radius = back[step * length + radius]!;
  }
  return radii;
}

/**
 * Returns per ray and radius the edge strength scaled by the strongest rise anywhere, so 1 is the
 * sharpest wall seen (falls count against), minus the darkness penalty. Radii below the minimum,
 * past the ray's barrier, or whose outer sample lies off the window are FORBIDDEN.
 */
function edgeScores(
  profiles: RayProfiles,
  barrierLevel: number,
  settings: ContourSettings,
): Float32Array {
  const { rayCount, length, values } = profiles;
  const offset = settings.edgeOffsetPx;
  const scores = new Float32Array(rayCount * length).fill(FORBIDDEN);
  let strongest = 1e-6;
  for (let ray = 0; ray < rayCount; ray++) {
    const start = ray * length;
    const barrier = firstAtOrAbove(values, start, length, barrierLevel);
    const lastRadius = Math.max(
      settings.minRadiusPx,
      Math.min(length - 1 - offset, barrier + settings.barrierSlackPx),
    );
    for (let radius = settings.minRadiusPx; radius <= lastRadius; radius++) {
      const rise = values[start + radius + offset]! - values[start + Math.max(0, radius - offset)]!;
      if (!Number.isFinite(rise)) continue;
      scores[start + radius] = rise;
      if (rise > strongest) strongest = rise;
    }
  }
  addDarknessPenalty(scores, profiles, barrierLevel, strongest, settings.darknessWeight);
  return scores;
}

/**
 * Scales the edge scores by the strongest rise and subtracts, per ray and radius, the darkness
 * penalty: the weight times how far the mean grey level from the centre out to that radius lies
 * above the centre's own level, as a share of the way up to the barrier level. A contour that
 * takes in grey tissue beyond a faint wall pays for it even when that tissue ends in a strong edge.
 */
function addDarknessPenalty(
  scores: Float32Array,
  profiles: RayProfiles,
  barrierLevel: number,
  strongest: number,
  weight: number,
): void {
  const { rayCount, length, values } = profiles;
  for (let ray = 0; ray < rayCount; ray++) {
    const start = ray * length;
    const centreLevel = values[start]!;
    const span = Math.max(1, barrierLevel - centreLevel);
    let sum = 0;
    for (let radius = 0; radius < length; radius++) {
      const value = values[start + radius]!;
      if (!Number.isFinite(value)) break;
      sum += value;
      const index = start + radius;
      if (scores[index]! <= FORBIDDEN) continue;
      const excess = Math.max(0, sum / (radius + 1) - centreLevel) / span;
      scores[index] = scores[index]! / strongest - weight * excess;
    }
  }
}

function firstAtOrAbove(values: Float32Array, start: number, length: number, level: number) {
  for (let i = 0; i < length; i++) if (values[start + i]! >= level) return i;
  return length;
}
