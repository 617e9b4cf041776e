import type { GrayFrame } from '../core/image.ts';
import { dilate } from './morphology.ts';
import type { Raster } from './raster.ts';
import type { LumenFailure, SegmentOptions } from './types.ts';

/** Resolved segmentation options. */
export type SegmentSettings = Required<Omit<SegmentOptions, 'threshold'>>;

/**
 * Returns why the grown region is not an acceptable lumen (too small, too large, reaching the
 * window border, or not clearly darker than its surroundings), or undefined when it is.
 */
export function checkRegion(
  region: Raster<Uint8Array>,
  levels: RingLevels,
  smoothed: Raster<Float32Array>,
  frame: GrayFrame,
  settings: SegmentSettings,
): LumenFailure | undefined {
  const area = countOnes(region.data);
  if (area < settings.minAreaPx) return 'too-small';
  if (area > settings.maxAreaFraction * frame.width * frame.height) return 'leak';
  if (touchesWindowBorder(region, smoothed, frame)) return 'leak';
  const contrast = levels.wallLevel - levels.lumenLevel;
  const clear =
    contrast >= settings.minContrast && contrast >= settings.minContrastRatio * levels.wallLevel;
  return clear ? undefined : 'low-contrast';
}

/** Width of the band around the lumen whose mean grey level is compared with the lumen's, px. */
export function ringWidthPx(settings: SegmentSettings): number {
  return Math.ceil(3 * settings.smoothingSigmaPx) + 2;
}

export interface RingLevels {
  lumenLevel: number;
  wallLevel: number;
}

/**
 * Returns the mean smoothed grey level inside the region and in a band `width` px wide around
 * it. Band pixels outside the region's raster are not counted; NaN where nothing is counted.
 */
export function ringLevels(
  region: Raster<Uint8Array>,
  smoothed: Raster<Float32Array>,
  width: number,
): RingLevels {
  const band = dilate(region.data, region.width, region.height, width);
  let insideSum = 0;
  let insideCount = 0;
  let bandSum = 0;
  let bandCount = 0;
  for (let y = 0; y < region.height; y++) {
    const rowStart = (y + region.y0 - smoothed.y0) * smoothed.width + region.x0 - smoothed.x0;
    for (let x = 0; x < region.width; x++) {
      const local = y * region.width + x;
      const value = smoothed.data[rowStart + x]!;
      if (region.data[local] === 1) {
        insideSum += value;
        insideCount++;
      } else if (band[local] === 1) {
        bandSum += value;
        bandCount++;
      }
    }
  }
  return { lumenLevel: insideSum / insideCount, wallLevel: bandSum / bandCount };
}

/**
 * True when the region reaches the border of the analysis window where that border is inside
 * the frame: the lumen then continues past what was analysed. A lumen cut by the frame edge is
 * accepted.
 */
function touchesWindowBorder(
  region: Raster<Uint8Array>,
  window: Raster<Float32Array>,
  frame: GrayFrame,
): boolean {
  const left = window.x0 > 0 ? window.x0 : -1;
  const top = window.y0 > 0 ? window.y0 : -1;
  const right = window.x0 + window.width < frame.width ? window.x0 + window.width - 1 : -1;
  const bottom = window.y0 + window.height < frame.height ? window.y0 + window.height - 1 : -1;
  for (let y = 0; y < region.height; y++) {
    const frameY = region.y0 + y;
    for (let x = 0; x < region.width; x++) {
      if (region.data[y * region.width + x] !== 1) continue;
      const frameX = region.x0 + x;
      if (frameX === left || frameX === right || frameY === top || frameY === bottom) return true;
    }
  }
  return false;
}

function countOnes(mask: Uint8Array): number {
  let count = 0;
  for (let i = 0; i < mask.length; i++) count += mask[i]!;
  return count;
}
