import type { GrayFrame, Rect } from '../core/image.ts';

/**
 * Two consecutive frames whose mean absolute difference inside the image area is below this, in
 * grey levels, count as identical. Live speckle changes by 0.5 or more between distinct frames
 * of the real clips; repeated frames of re-encoded clips differ by less than 0.25.
 */
const IDENTICAL_MEAN_DIFFERENCE = 0.25;

/** The image area is block-averaged to about this many blocks along its longer side. */
const MOTION_GRID_BLOCKS = 32;
/** Shift searched in each direction, as a share of the averaged image's width and height. */
const MOTION_SEARCH_FRACTION = 0.25;
/** Frames compared with the first frame per second of recording. */
const MOTION_SAMPLES_PER_S = 4;

export interface MotionFigures {
  /** Largest shift of a sampled frame against the first, as a share of the area side. */
  maxShiftFraction: number;
  /** Lowest Pearson correlation of a sampled frame with the first, at its best shift. */
  minSimilarity: number;
}

/**
 * Returns the longest run of identical consecutive frames, in seconds of source time. A frozen
 * scanner sends the same image again and again, so a long run means the image was frozen.
 */
export function longestFrozenRunS(frames: GrayFrame[], timestampsS: number[], area: Rect): number {
  let longest = 0;
  let runStart: number | null = null;
  for (let i = 1; i < frames.length; i++) {
    const identical = meanDifference(frames[i - 1]!, frames[i]!, area) < IDENTICAL_MEAN_DIFFERENCE;
    if (!identical) {
      runStart = null;
      continue;
    }
    runStart ??= timestampsS[i - 1]!;
    longest = Math.max(longest, timestampsS[i]! - runStart);
  }
  return longest;
}

/** Samples every other pixel of every other row, which is plenty for a mean over the area. */
function meanDifference(a: GrayFrame, b: GrayFrame, area: Rect): number {
  let sum = 0;
  let count = 0;
  for (let y = area.y; y < area.y + area.height; y += 2) {
    const row = y * a.width;
    for (let x = area.x; x < area.x + area.width; x += 2) {
      sum += Math.abs(a.data[row + x]! - b.data[row + x]!);
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/**
 * Measures how far the image moved during the recording: each sampled frame is matched against
 * the first by block-averaged Pearson correlation over shifts of up to a quarter of the area.
 * Averaging over blocks removes most speckle, so the match follows the anatomy.
 */
export function measureMotion(
  frames: GrayFrame[],
  timestampsS: number[],
  area: Rect,
): MotionFigures {
  const reference = blockAverage(frames[0]!, area);
  let maxShiftFraction = 0;
  let minSimilarity = 1;
  let nextSampleS = timestampsS[0]! + 1 / MOTION_SAMPLES_PER_S;
  for (let i = 1; i < frames.length; i++) {
    if (timestampsS[i]! < nextSampleS) continue;
    nextSampleS = timestampsS[i]! + 1 / MOTION_SAMPLES_PER_S;
    const match = bestShift(reference, blockAverage(frames[i]!, area));
    maxShiftFraction = Math.max(maxShiftFraction, match.shiftFraction);
    minSimilarity = Math.min(minSimilarity, match.similarity);
  }
  return { maxShiftFraction, minSimilarity };
}

interface BlockImage {
  width: number;
  height: number;
  data: Float32Array;
}

function blockAverage(frame: GrayFrame, area: Rect): BlockImage {
  const block = Math.max(1, Math.ceil(Math.max(area.width, area.height) / MOTION_GRID_BLOCKS));
  const width = Math.max(1, Math.floor(area.width / block));
  const height = Math.max(1, Math.floor(area.height / block));
  const data = new Float32Array(width * height);
  for (let by = 0; by < height; by++) {
    for (let bx = 0; bx < width; bx++) {
      let sum = 0;
      for (let dy = 0; dy < block; dy++) {
        const row = (area.y + by * block + dy) * frame.width + area.x + bx * block;
        for (let dx = 0; dx < block; dx++) sum += frame.data[row + dx] ?? 0;
      }
      data[by * width + bx] = sum / (block * block);
    }
  }
  return { width, height, data };
}

function bestShift(
  reference: BlockImage,
  moved: BlockImage,
): { shiftFraction: number; similarity: number } {
  const rangeX = Math.round(reference.width * MOTION_SEARCH_FRACTION);
  const rangeY = Math.round(reference.height * MOTION_SEARCH_FRACTION);
  let similarity = -Infinity;
  let shiftFraction = 0;
  for (let sy = -rangeY; sy <= rangeY; sy++) {
    for (let sx = -rangeX; sx <= rangeX; sx++) {
      const value = correlationAt(reference, moved, sx, sy);
      if (value > similarity) {
        similarity = value;
        shiftFraction = Math.max(Math.abs(sx) / reference.width, Math.abs(sy) / reference.height);
      }
    }
  }
  return { shiftFraction, similarity };
}

/** Pearson correlation of `a` with `b` moved by (sx, sy) blocks, over their overlap. */
function correlationAt(a: BlockImage, b: BlockImage, sx: number, sy: number): number {
  let sumA = 0;
  let sumB = 0;
  let sumAA = 0;
  let sumBB = 0;
  let sumAB = 0;
  let n = 0;
  for (let y = Math.max(0, -sy); y < Math.min(a.height, a.height - sy); y++) {
    for (let x = Math.max(0, -sx); x < Math.min(a.width, a.width - sx); x++) {
      const va = a.data[y * a.width + x]!;
      const vb = b.data[(y + sy) * b.width + x + sx]!;
      sumA += va;
      sumB += vb;
      sumAA += va * va;
      sumBB += vb * vb;
      sumAB += va * vb;
      n++;
    }
  }
  if (n === 0) return 0;
  const covariance = sumAB / n - (sumA / n) * (sumB / n);
  const varianceA = sumAA / n - (sumA / n) ** 2;
  const varianceB = sumBB / n - (sumB / n) ** 2;
  // A uniform image (probe lifted, blank screen) has no variance and correlates with nothing.
  if (varianceA <= 1e-6 || varianceB <= 1e-6) return 0;
  return covariance / Math.sqrt(varianceA * varianceB);
}
