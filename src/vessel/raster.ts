import type { Rect } from '../core/image.ts';

/**
 * A rectangular piece of a frame: `data` is row-major, `width` × `height` values, and `x0`, `y0`
 * place its top-left pixel in frame coordinates.
 */
export interface Raster<T extends Uint8Array | Float32Array> {
  data: T;
  width: number;
  height: number;
  x0: number;
  y0: number;
}

/** Copies `rect` of a one-channel 8-bit frame into a float raster. */
export function cropToFloat(
  frameData: Uint8Array,
  frameWidth: number,
  rect: Rect,
): Raster<Float32Array> {
  const data = new Float32Array(rect.width * rect.height);
  for (let y = 0; y < rect.height; y++) {
    const rowStart = (rect.y + y) * frameWidth + rect.x;
    for (let x = 0; x < rect.width; x++) data[y * rect.width + x] = frameData[rowStart + x]!;
  }
  return { data, width: rect.width, height: rect.height, x0: rect.x, y0: rect.y };
}

/** Returns the part of the square of half-size `radius` around (cx, cy) that lies in the frame. */
export function clampedWindow(
  cx: number,
  cy: number,
  radius: number,
  frameWidth: number,
  frameHeight: number,
): Rect {
  const x = Math.max(0, Math.round(cx) - radius);
  const y = Math.max(0, Math.round(cy) - radius);
  const right = Math.min(frameWidth, Math.round(cx) + radius + 1);
  const bottom = Math.min(frameHeight, Math.round(cy) + radius + 1);
  return { x, y, width: right - x, height: bottom - y };
}

/**
 * Smooths in place with three passes of a box filter in each direction, which approximates a
 * Gaussian of the given standard deviation (px) at a cost independent of its size. Edge values
 * are replicated past the border.
 */
export function gaussianBlurInPlace(raster: Raster<Float32Array>, sigmaPx: number): void {
  // Three box passes of width w have variance 3 (w² − 1) / 12 = σ², so w = √(4σ² + 1).
  const radius = Math.round((Math.sqrt(4 * sigmaPx * sigmaPx + 1) - 1) / 2);
  if (radius < 1) return;
  const { data, width, height } = raster;
  const line = new Float32Array(width);
  const spare = new Float32Array(width);
  for (let y = 0; y < height; y++) {
    const row = data.subarray(y * width, (y + 1) * width);
    boxPass(row, line, width, radius);
    boxPass(line, spare, width, radius);
    boxPass(spare, row, width, radius);
  }
  // Column passes run row by row with one running sum per column, so memory is read in order.
  const copy = new Float32Array(data.length);
  const sums = new Float32Array(width);
  verticalBoxPass(data, copy, width, height, radius, sums);
  verticalBoxPass(copy, data, width, height, radius, sums);
  verticalBoxPass(data, copy, width, height, radius, sums);
  data.set(copy);
}

function boxPass(from: Float32Array, to: Float32Array, length: number, radius: number): void {
  const last = length - 1;
  const scale = 1 / (2 * radius + 1);
  if (length <= 2 * radius + 1) {
    boxPassClamped(from, to, length, radius);
    return;
  }
  let sum = from[0]! * (radius + 1);
  for (let k = 1; k <= radius; k++) sum += from[k]!;
  // Near the ends the window runs past the line and repeats the end value.
  for (let i = 0; i <= radius; i++) {
    to[i] = sum * scale;
    sum += from[i + radius + 1]! - from[0]!;
  }
  for (let i = radius + 1; i < length - radius - 1; i++) {
    to[i] = sum * scale;
    sum += from[i + radius + 1]! - from[i - radius]!;
  }
  for (let i = Math.max(radius + 1, length - radius - 1); i < length; i++) {
    to[i] = sum * scale;
    sum += from[last]! - from[i - radius]!;
  }
}

/** Applies the same filter to lines no longer than the box, clamping every index. */
function boxPassClamped(from: Float32Array, to: Float32Array, length: number, radius: number) {
  const last = length - 1;
  const scale = 1 / (2 * radius + 1);
  for (let i = 0; i < length; i++) {
    let sum = 0;
    for (let k = i - radius; k <= i + radius; k++) {
      const clamped = Math.min(last, Math.max(0, k));
      sum += from[clamped]!;
    }
    to[i] = sum * scale;
  }
}

function verticalBoxPass(
  from: Float32Array,
  to: Float32Array,
  width: number,
  height: number,
  radius: number,
  sums: Float32Array,
): void {
  const last = height - 1;
  for (let x = 0; x < width; x++) sums[x] = from[x]! * (radius + 1);
  for (let k = 1; k <= radius; k++) {
    const row = (k > last ? last : k) * width;
    for (let x = 0; x < width; x++) sums[x] = sums[x]! + from[row + x]!;
  }
  const scale = 1 / (2 * radius + 1);
  for (let y = 0; y < height; y++) {
    const out = y * width;
    const entering = (y + radius + 1 > last ? last : y + radius + 1) * width;
    const leaving = (y - radius < 0 ? 0 : y - radius) * width;
    for (let x = 0; x < width; x++) {
      to[out + x] = sums[x]! * scale;
      sums[x] = sums[x]! + from[entering + x]! - from[leaving + x]!;
    }
  }
}

/**
 * Returns Otsu's threshold of values in 0–255: the grey level that maximises the between-class
 * variance of the histogram. Dark pixels are those below it.
 */
export function otsuThreshold(values: Float32Array): number {
  const histogram = new Float64Array(256);
  for (let i = 0; i < values.length; i++) {
    // Smoothed 8-bit values stay within 0–255, so adding 0.5 and truncating rounds them.
    histogram[(values[i]! + 0.5) | 0]! += 1;
  }
  let totalSum = 0;
  for (let bin = 0; bin < 256; bin++) totalSum += bin * histogram[bin]!;
  let darkCount = 0;
  let darkSum = 0;
  let bestVariance = -1;
  let bestBin = 0;
  for (let bin = 0; bin < 255; bin++) {
    darkCount += histogram[bin]!;
    darkSum += bin * histogram[bin]!;
    const brightCount = values.length - darkCount;
    if (darkCount === 0 || brightCount === 0) continue;
    const meanGap = darkSum / darkCount - (totalSum - darkSum) / brightCount;
    const variance = darkCount * brightCount * meanGap * meanGap;
    if (variance > bestVariance) {
      bestVariance = variance;
      bestBin = bin;
    }
  }
  return bestBin + 0.5;
}
