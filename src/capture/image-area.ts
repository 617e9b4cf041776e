import type { Clip, GrayFrame, Point, Rect } from '../core/image.ts';
import { toGray } from '../core/image.ts';

export interface ImageAreaOptions {
  /** Pick the region that contains this point (source pixels); default the largest region. */
  near?: Point;
  /** Frames sampled evenly across the clip; default 40. */
  sampleFrames?: number;
}

/** Grey levels: darker pixels are background, never image. */
const MIN_MEAN = 12;
/** Grey levels: a pixel whose standard deviation over time stays below this is static overlay. */
const MIN_TEMPORAL_STD = 1.0;
/** Side of the square opening that removes text strokes, calipers and small logos, in pixels. */
const OPENING_SIZE = 7;

/** Side of the square closing that bridges dark vessels, as a share of the shorter frame side. */
const CLOSING_SHARE = 0.08;

/**
 * Finds the ultrasound image area of a clip: the largest region (or the region around `near`)
 * whose pixels are bright and change over time. Burned-in text, banners and logos are static, so
 * they drop out; the sector or rectangle of live speckle stays. Falls back to the bright region
 * of the mean image when the clip has a single frame.
 */
export function detectImageArea(clip: Clip, options: ImageAreaOptions = {}): Rect {
  const { width, height } = clip;
  const frames = sampleFrames(clip, options.sampleFrames ?? 40).map(toGray);
  const { mean, std } = temporalStatistics(frames, width * height);
  const single = frames.length < 2;
  const active = new Uint8Array(width * height);
  for (let i = 0; i < active.length; i++) {
    active[i] = mean[i]! >= MIN_MEAN && (single || std[i]! >= MIN_TEMPORAL_STD) ? 1 : 0;
  }
  const opened = dilate(erode(active, width, height, OPENING_SIZE), width, height, OPENING_SIZE);
  // Anechoic lumens are dark and can cut the image in two; closing bridges them.
  const closingSize = Math.max(15, Math.round(CLOSING_SHARE * Math.min(width, height)));
  const closed = erode(dilate(opened, width, height, closingSize), width, height, closingSize);
  const region = pickRegion(closed, width, height, options.near);
  return region ?? { x: 0, y: 0, width, height };
}

function sampleFrames(clip: Clip, count: number): Clip['frames'] {
  if (clip.frames.length <= count) return clip.frames;
  const step = clip.frames.length / count;
  return Array.from({ length: count }, (_, i) => clip.frames[Math.floor(i * step)]!);
}

function temporalStatistics(
  frames: GrayFrame[],
  pixels: number,
): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(pixels);
  const sumSquares = new Float64Array(pixels);
  for (const frame of frames) {
    const data = frame.data;
    for (let i = 0; i < pixels; i++) {
      const value = data[i]!;
      sum[i]! += value;
      sumSquares[i]! += value * value;
    }
  }
  const mean = new Float32Array(pixels);
  const std = new Float32Array(pixels);
  const n = Math.max(1, frames.length);
  for (let i = 0; i < pixels; i++) {
    const m = sum[i]! / n;
    mean[i] = m;
    std[i] = Math.sqrt(Math.max(0, sumSquares[i]! / n - m * m));
  }
  return { mean, std };
}

/** Binary erosion by a square, separable: a row pass then a column pass. */
function erode(mask: Uint8Array, width: number, height: number, size: number): Uint8Array {
  return squareFilter(mask, width, height, size, 0);
}

function dilate(mask: Uint8Array, width: number, height: number, size: number): Uint8Array {
  return squareFilter(mask, width, height, size, 1);
}

/** Sets a pixel to `target` when any pixel of the square around it has that value. */
function squareFilter(
  mask: Uint8Array,
  width: number,
  height: number,
  size: number,
  target: 0 | 1,
): Uint8Array {
  const radius = Math.floor(size / 2);
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let hit = false;
      for (let dx = -radius; dx <= radius && !hit; dx++) {
        const xx = x + dx;
        hit = xx < 0 || xx >= width ? target === 0 : mask[y * width + xx] === target;
      }
      rows[y * width + x] = hit ? target : 1 - target;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let hit = false;
      for (let dy = -radius; dy <= radius && !hit; dy++) {
        const yy = y + dy;
        hit = yy < 0 || yy >= height ? target === 0 : rows[yy * width + x] === target;
      }
      out[y * width + x] = hit ? target : 1 - target;
    }
  }
  return out;
}

/** Labels 4-connected regions and returns the bounding box of the chosen one. */
function pickRegion(mask: Uint8Array, width: number, height: number, near?: Point): Rect | null {
  const labels = new Int32Array(mask.length);
  const stack: number[] = [];
  let best: { area: number; rect: Rect; containsNear: boolean } | null = null;
  let label = 0;
  const nearIndex = near === undefined ? -1 : Math.round(near.y) * width + Math.round(near.x);
  for (let start = 0; start < mask.length; start++) {
    if (mask[start] === 0 || labels[start] !== 0) continue;
    label++;
    let area = 0;
    let minX = width;
    let minY = height;
    let maxX = 0;
    let maxY = 0;
    let containsNear = false;
    labels[start] = label;
    stack.push(start);
    while (stack.length > 0) {
      const index = stack.pop()!;
      const x = index % width;
      const y = (index - x) / width;
      area++;
      if (index === nearIndex) containsNear = true;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      for (const next of [index - 1, index + 1, index - width, index + width]) {
        if (next < 0 || next >= mask.length) continue;
        if ((next === index - 1 && x === 0) || (next === index + 1 && x === width - 1)) continue;
        if (mask[next] === 0 || labels[next] !== 0) continue;
        labels[next] = label;
        stack.push(next);
      }
    }
    const rect = { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
    const better =
      best === null ||
      (containsNear && !best.containsNear) ||
      (containsNear === best.containsNear && area > best.area);
    if (better) best = { area, rect, containsNear };
  }
  return best?.rect ?? null;
}

/**
 * Returns the image area to use: the manual rectangle from the config, clipped to the frame,
 * when one is set, else the automatic one. Returns null when neither is known, or when the
 * manual rectangle lies wholly outside the frame.
 */
export function chooseImageArea(
  manual: Rect | null,
  automatic: Rect | null,
  frame: { width: number; height: number } | null,
): Rect | null {
  if (manual === null) return automatic;
  if (frame === null) return manual;
  const left = Math.max(0, manual.x);
  const top = Math.max(0, manual.y);
  const right = Math.min(frame.width, manual.x + manual.width);
  const bottom = Math.min(frame.height, manual.y + manual.height);
  if (right <= left || bottom <= top) return null;
  return { x: left, y: top, width: right - left, height: bottom - top };
}
