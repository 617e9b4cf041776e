import type { GrayFrame, Rect } from '../core/image.ts';

/**
 * Pixel step of the signal measures in x and y. Every second pixel of every second row is a
 * quarter of the work and still tens of thousands of samples for a 640x480 frame.
 */
const STEP = 2;

/** Grey levels around the median within which a pixel counts as part of a uniform frame. */
const UNIFORM_TOLERANCE = 4;

function bounds(frame: GrayFrame, area: Rect | null): Rect {
  if (area === null) return { x: 0, y: 0, width: frame.width, height: frame.height };
  const x = Math.max(0, Math.min(area.x, frame.width - 1));
  const y = Math.max(0, Math.min(area.y, frame.height - 1));
  const width = Math.max(1, Math.min(area.width, frame.width - x));
  const height = Math.max(1, Math.min(area.height, frame.height - y));
  return { x, y, width, height };
}

/**
 * Mean absolute difference between two frames of the same size inside `area` (whole frames when
 * null), in grey levels, over every second pixel and row.
 */
export function meanAbsoluteDifference(a: GrayFrame, b: GrayFrame, area: Rect | null): number {
  const box = bounds(a, area);
  let sum = 0;
  let count = 0;
  for (let y = box.y; y < box.y + box.height; y += STEP) {
    const row = y * a.width;
    for (let x = box.x; x < box.x + box.width; x += STEP) {
      sum += Math.abs(a.data[row + x]! - b.data[row + x]!);
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/** Share of sampled pixels within 4 grey levels of the frame's median grey level, 0–1. */
export function uniformShare(frame: GrayFrame): number {
  const histogram = new Uint32Array(256);
  let count = 0;
  for (let y = 0; y < frame.height; y += STEP) {
    const row = y * frame.width;
    for (let x = 0; x < frame.width; x += STEP) {
      histogram[frame.data[row + x]!]!++;
      count++;
    }
  }
  const median = medianLevel(histogram, count);
  let near = 0;
  const low = Math.max(0, median - UNIFORM_TOLERANCE);
  const high = Math.min(255, median + UNIFORM_TOLERANCE);
  for (let level = low; level <= high; level++) near += histogram[level]!;
  return count === 0 ? 1 : near / count;
}

function medianLevel(histogram: Uint32Array, count: number): number {
  let seen = 0;
  for (let level = 0; level < 256; level++) {
    seen += histogram[level]!;
    if (seen * 2 >= count) return level;
  }
  return 255;
}
