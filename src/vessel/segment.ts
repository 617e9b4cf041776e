import type { GrayFrame, Point } from '../core/image.ts';
import { checkGrayFrame, checkSeed } from './checks.ts';
import { traceContour } from './contour.ts';
import { componentAt, dilate, erode, fillHoles, floodFill } from './morphology.ts';
import { polygonCentroid, rasterizeStar, sampleRays } from './radial.ts';
import {
  clampedWindow,
  cropToFloat,
  gaussianBlurInPlace,
  otsuThreshold,
  type Raster,
} from './raster.ts';
import { checkRegion, ringLevels, ringWidthPx, type SegmentSettings } from './region-check.ts';
import { measureShape } from './shape.ts';
import type { LumenFailure, LumenMask, SegmentOptions } from './types.ts';

/** Rays cast from the lumen centre; 128 puts them about 3 px apart on a 60 px radius. */
const RAY_COUNT = 128;

/** A second contour pass is skipped when the first one's centroid is this close to its centre. */
const RECENTRE_MIN_SHIFT_PX = 2;

/** The contour is widened by this much before growing, as it lies on the wall's steepest rise. */
const CONTOUR_MARGIN_PX = 2;

/**
 * Segments the dark (anechoic) vessel lumen at or near `seed`.
 *
 * The frame is smoothed and a window around the seed thresholded with Otsu's method (or the
 * fixed `threshold`). A bright seed moves to the darkest pixel near it. A star-shaped contour is
 * traced on the wall echo by dynamic programming around the seed, then again around the
 * contour's centroid. That contour is the leak guard, because a plain threshold region escapes
 * through any gap in the wall. The region grown from the seed below the threshold inside the
 * contour, closed and hole-filled, is the lumen. By default it must be at least 20 % darker than
 * the band around it.
 * Throws a BvEdgeError for an invalid frame or a seed outside it; returns `found: false` with the
 * reason when no clear lumen is there.
 *
 * NOTE: neighbouring rays may differ by at most 6 px of radius, so a long, narrow lumen (an IVC
 * in long axis) is cut to its middle part. Its AP diameter through the centroid is unaffected.
 */
export function segmentLumen(
  frame: GrayFrame,
  seed: Point,
  options: SegmentOptions = {},
): LumenMask {
  checkGrayFrame(frame);
  checkSeed(frame, seed);
  const settings = resolveSettings(frame, options);
  const window = clampedWindow(seed.x, seed.y, settings.windowRadiusPx, frame.width, frame.height);
  const smoothed = cropToFloat(frame.data, frame.width, window);
  gaussianBlurInPlace(smoothed, settings.smoothingSigmaPx);
  const threshold = options.threshold ?? otsuThreshold(smoothed.data);

  const start = findStartPoint(smoothed, seed, settings.seedSearchRadiusPx, threshold);
  if (!start) return emptyLumen(frame, seed, threshold, 'no-dark-pixel');
  const star = traceStar(smoothed, start, threshold, settings.windowRadiusPx);
  const region = growInside(smoothed, start, star, threshold, settings);
  const levels = ringLevels(region, smoothed, ringWidthPx(settings));
  const failure = checkRegion(region, levels, smoothed, frame, settings);
  if (failure) return emptyLumen(frame, start, threshold, failure);

  const mask = new Uint8Array(frame.width * frame.height);
  pasteRaster(region, mask, frame.width);
  return {
    ...measureShape(region),
    mask,
    width: frame.width,
    height: frame.height,
    threshold,
    startPoint: start,
    ...levels,
  };
}

function resolveSettings(frame: GrayFrame, options: SegmentOptions): SegmentSettings {
  const largerSide = Math.max(frame.width, frame.height);
  return {
    smoothingSigmaPx: options.smoothingSigmaPx ?? 2,
    seedSearchRadiusPx: options.seedSearchRadiusPx ?? 12,
    windowRadiusPx: Math.max(8, Math.round(options.windowRadiusPx ?? 0.25 * largerSide)),
    closingRadiusPx: options.closingRadiusPx ?? 3,
    maxAreaFraction: options.maxAreaFraction ?? 0.25,
    minAreaPx: options.minAreaPx ?? 20,
    minContrast: options.minContrast ?? 10,
    minContrastRatio: options.minContrastRatio ?? 0.2,
  };
}

/**
 * Returns the seed when it is darker than the threshold, else the darkest pixel within `radius`
 * of it when that one is, else null. Points are in frame coordinates.
 */
function findStartPoint(
  smoothed: Raster<Float32Array>,
  seed: Point,
  radius: number,
  threshold: number,
): Point | null {
  const sx = Math.round(seed.x) - smoothed.x0;
  const sy = Math.round(seed.y) - smoothed.y0;
  let best = sy * smoothed.width + sx;
  if (smoothed.data[best]! < threshold) return { x: sx + smoothed.x0, y: sy + smoothed.y0 };
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      const x = sx + dx;
      const y = sy + dy;
      if (dx * dx + dy * dy > radius * radius) continue;
      if (x < 0 || y < 0 || x >= smoothed.width || y >= smoothed.height) continue;
      const index = y * smoothed.width + x;
      if (smoothed.data[index]! < smoothed.data[best]!) best = index;
    }
  }
  if (smoothed.data[best]! >= threshold) return null;
  const x = best % smoothed.width;
  return { x: x + smoothed.x0, y: (best - x) / smoothed.width + smoothed.y0 };
}

interface Star {
  centre: Point;
  radii: Float32Array;
}

/**
 * Traces the contour around the start point, then once more around that contour's centroid when
 * the centroid is dark and not within 2 px of the start, so an off-centre seed gives about the
 * same contour as a central one.
 */
function traceStar(
  smoothed: Raster<Float32Array>,
  start: Point,
  threshold: number,
  rayLength: number,
): Star {
  const first = traceContour(sampleRays(smoothed, start, RAY_COUNT, rayLength), threshold);
  const centre = polygonCentroid(start, first);
  const shift = Math.hypot(centre.x - start.x, centre.y - start.y);
  if (shift < RECENTRE_MIN_SHIFT_PX || valueAt(smoothed, centre) >= threshold) {
    return { centre: start, radii: first };
  }
  const radii = traceContour(sampleRays(smoothed, centre, RAY_COUNT, rayLength), threshold);
  return { centre, radii };
}

function valueAt(raster: Raster<Float32Array>, point: Point): number {
  const x = Math.round(point.x) - raster.x0;
  const y = Math.round(point.y) - raster.y0;
  if (x < 0 || y < 0 || x >= raster.width || y >= raster.height) return Infinity;
  return raster.data[y * raster.width + x]!;
}

/**
 * Grows the region of pixels below the threshold inside the contour (widened by
 * CONTOUR_MARGIN_PX), from the start point or, when that lies outside, from the contour centre.
 * Then closes the region, fills its holes and keeps the part connected to where it grew from.
 * Returns it on the contour's bounding box plus a margin, clipped to the window.
 */
function growInside(
  smoothed: Raster<Float32Array>,
  start: Point,
  star: Star,
  threshold: number,
  settings: SegmentSettings,
): Raster<Uint8Array> {
  const allowed = starBox(smoothed, star, settings);
  rasterizeStar(star.centre, star.radii, allowed, CONTOUR_MARGIN_PX);
  const { width, height } = allowed;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const value =
        smoothed.data[
          (y + allowed.y0 - smoothed.y0) * smoothed.width + x + allowed.x0 - smoothed.x0
        ]!;
      if (value >= threshold) allowed.data[y * width + x] = 0;
    }
  }
  const from = [localIndex(allowed, start), localIndex(allowed, star.centre)];
  const origin = from.find((index) => index >= 0 && allowed.data[index] === 1) ?? -1;
  const grown = new Uint8Array(allowed.data.length);
  if (origin < 0) return { ...allowed, data: grown };
  floodFill(allowed.data, width, height, [origin], 1, grown);
  let mask: Uint8Array = dilate(grown, width, height, settings.closingRadiusPx);
  mask = erode(mask, width, height, settings.closingRadiusPx);
  fillHoles(mask, width, height);
  return { ...allowed, data: componentAt(mask, width, height, origin) };
}

/** Returns an empty mask on the contour's bounding box plus a margin, clipped to the window. */
function starBox(
  smoothed: Raster<Float32Array>,
  star: Star,
  settings: SegmentSettings,
): Raster<Uint8Array> {
  const extent = starExtent(star);
  const margin = CONTOUR_MARGIN_PX + Math.ceil(settings.closingRadiusPx) + 2;
  const x0 = Math.max(smoothed.x0, Math.floor(extent.minX) - margin);
  const y0 = Math.max(smoothed.y0, Math.floor(extent.minY) - margin);
  const x1 = Math.min(smoothed.x0 + smoothed.width, Math.ceil(extent.maxX) + margin + 1);
  const y1 = Math.min(smoothed.y0 + smoothed.height, Math.ceil(extent.maxY) + margin + 1);
  const width = x1 - x0;
  const height = y1 - y0;
  return { data: new Uint8Array(width * height), width, height, x0, y0 };
}

function starExtent(star: Star): { minX: number; minY: number; maxX: number; maxY: number } {
  const extent = {
    minX: star.centre.x,
    minY: star.centre.y,
    maxX: star.centre.x,
    maxY: star.centre.y,
  };
  const count = star.radii.length;
  for (let ray = 0; ray < count; ray++) {
    const angle = (2 * Math.PI * ray) / count;
    const x = star.centre.x + star.radii[ray]! * Math.cos(angle);
    const y = star.centre.y + star.radii[ray]! * Math.sin(angle);
    extent.minX = Math.min(extent.minX, x);
    extent.minY = Math.min(extent.minY, y);
    extent.maxX = Math.max(extent.maxX, x);
    extent.maxY = Math.max(extent.maxY, y);
  }
  return extent;
}

function localIndex(raster: Raster<Uint8Array>, point: Point): number {
  const x = Math.round(point.x) - raster.x0;
  const y = Math.round(point.y) - raster.y0;
  if (x < 0 || y < 0 || x >= raster.width || y >= raster.height) return -1;
  return y * raster.width + x;
}

function pasteRaster(region: Raster<Uint8Array>, mask: Uint8Array, frameWidth: number): void {
  for (let y = 0; y < region.height; y++) {
    const row = region.data.subarray(y * region.width, (y + 1) * region.width);
    mask.set(row, (region.y0 + y) * frameWidth + region.x0);
  }
}

function emptyLumen(
  frame: GrayFrame,
  startPoint: Point,
  threshold: number,
  failure: LumenFailure,
): LumenMask {
  return {
    found: false,
    areaPx: 0,
    centroid: { ...startPoint },
    bbox: { x: Math.round(startPoint.x), y: Math.round(startPoint.y), width: 0, height: 0 },
    apDiameterPx: 0,
    lateralDiameterPx: 0,
    mask: new Uint8Array(frame.width * frame.height),
    width: frame.width,
    height: frame.height,
    threshold,
    startPoint,
    lumenLevel: Number.NaN,
    wallLevel: Number.NaN,
    failure,
  };
}
