import { BvEdgeError } from '../core/errors.ts';
import { isRectInFrame, type GrayFrame, type Point, type Rect } from '../core/image.ts';
import { checkGrayFrame } from './checks.ts';
import { distanceTransform } from './morphology.ts';
import { cropToFloat, gaussianBlurInPlace, otsuThreshold, type Raster } from './raster.ts';
import { segmentLumen } from './segment.ts';
import type { LumenMask } from './types.ts';

/** Frames averaged and checked for persistence, spread evenly over the clip. */
const MAX_SAMPLED_FRAMES = 32;
/** Candidate lumen centres tried, deepest first. */
const MAX_CANDIDATES = 24;
/** A candidate centre must be at least this far from any bright pixel, px. */
const MIN_CANDIDATE_DEPTH_PX = 3;
/**
 * Smallest accepted 1 − (lumen grey level / surrounding grey level). The anechoic lumens of the
 * test clips are at most 60 % as bright as the tissue around them, and mid-grey patches of tissue
 * between brighter layers are brighter than that.
 */
const MIN_DARKNESS = 0.4;
/** Smallest accepted lumen as a share of the image area (and never under 30 px). */
const MIN_AREA_SHARE = 0.0005;

interface Candidate {
  point: Point;
  score: number;
}

/**
 * Finds a seed for `trackLumen` when none was given: the largest dark, compact and persistent
 * region inside `area`. Dark pixels are those below Otsu's threshold of the smoothed temporal
 * mean. Candidate centres are the points deepest inside the dark set that tissue walls in on most
 * sides. Each is grown into a lumen with `segmentLumen` on the mean frame, because a plain
 * connected component of the dark set often merges the lumen with the dark far field through
 * gaps in the wall. Lumens touching the area border, smaller than 0.05 % of it, or less than 40 %
 * darker than the band around them are rejected. The rest score area × compactness (4πA/P²) ×
 * persistence (mean share of the lumen that is dark in each sampled frame) × darkness. Returns
 * the winner's centroid (or its candidate centre when the centroid falls outside it), or null.
 *
 * NOTE: a small vein that moves several diameters during the clip (the IVC with breathing) blurs
 * into the temporal mean and may not be found, so pass a seed for such clips.
 */
export function findVesselSeed(frames: GrayFrame[], area: Rect): Point | null {
  checkFrames(frames, area);
  const sampled = sampleFrames(frames, MAX_SAMPLED_FRAMES);
  const mean = meanFrame(sampled, area);
  const smoothed = cropToFloat(mean.data, mean.width, area);
  gaussianBlurInPlace(smoothed, 2);
  const threshold = otsuThreshold(smoothed.data);
  const minArea = Math.max(30, MIN_AREA_SHARE * area.width * area.height);

  let best: Candidate | null = null;
  for (const centre of candidateCentres(smoothed, threshold)) {
    const lumen = segmentLumen(mean, centre, { threshold });
    if (!lumen.found || lumen.areaPx < minArea || touchesArea(lumen, area)) continue;
    const darkness = 1 - lumen.lumenLevel / lumen.wallLevel;
    if (!(darkness >= MIN_DARKNESS)) continue;
    const score = lumen.areaPx * compactness(lumen) * persistence(lumen, sampled) * darkness;
    if (!best || score > best.score) best = { point: insidePoint(lumen, centre), score };
  }
  return best?.point ?? null;
}

function checkFrames(frames: GrayFrame[], area: Rect): void {
  const first = frames[0];
  if (!first) {
    throw new BvEdgeError(
      'no_frames',
      'Cannot search for a vessel in an empty clip; pass at least one frame.',
    );
  }
  checkGrayFrame(first);
  const inside = isRectInFrame(area, first.width, first.height, 8);
  if (!inside) {
    throw new BvEdgeError(
      'invalid_image_area',
      `Image area ${JSON.stringify(area)} is not a rectangle of at least 8x8 integer pixels ` +
        `inside the ${first.width}x${first.height} frame.`,
      { value: area },
    );
  }
}

function sampleFrames(frames: GrayFrame[], maxCount: number): GrayFrame[] {
  if (frames.length <= maxCount) return frames;
  const step = frames.length / maxCount;
  return Array.from({ length: maxCount }, (_, i) => frames[Math.floor(i * step)]!);
}

/**
 * Returns the per-pixel mean of the frames inside `area`. Every pixel outside it is white, so no
 * lumen segmented on the mean frame can extend past the area.
 */
function meanFrame(frames: GrayFrame[], area: Rect): GrayFrame {
  const { width, height } = frames[0]!;
  const sums = new Float32Array(area.width * area.height);
  for (const frame of frames) {
    if (frame.width !== width || frame.height !== height) {
      throw new BvEdgeError(
        'invalid_frame',
        `Frames differ in size (${frame.width}x${frame.height} and ${width}x${height}); ` +
          'a clip must have one frame size.',
        { value: { width: frame.width, height: frame.height } },
      );
    }
    for (let y = 0; y < area.height; y++) {
      const row = (area.y + y) * width + area.x;
      for (let x = 0; x < area.width; x++) sums[y * area.width + x]! += frame.data[row + x]!;
    }
  }
  const data = new Uint8Array(width * height).fill(255);
  for (let y = 0; y < area.height; y++) {
    for (let x = 0; x < area.width; x++) {
      data[(area.y + y) * width + area.x + x] = Math.round(
        sums[y * area.width + x]! / frames.length,
      );
    }
  }
  return { width, height, channels: 1, data };
}

/**
 * Returns up to MAX_CANDIDATES walled-in points deepest inside the dark set (largest distance to
 * a bright pixel or the area border), at least that depth apart from each other, in frame
 * coordinates.
 */
function candidateCentres(smoothed: Raster<Float32Array>, threshold: number): Point[] {
  const { width, height, data } = smoothed;
  const dark = new Uint8Array(data.length);
  // The outermost pixels stay 0 (bright), so depth counts the distance to the area border too.
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      dark[y * width + x] = data[y * width + x]! < threshold ? 1 : 0;
    }
  }
  const depth = distanceTransform(dark, width, height, 0);
  const peaks = localMaxima(depth, width, height).sort((a, b) => depth[b]! - depth[a]!);
  const toPoint = (index: number): Point => ({
    x: (index % width) + smoothed.x0,
    y: Math.floor(index / width) + smoothed.y0,
  });
  const chosen: number[] = [];
  for (const peak of peaks) {
    if (chosen.length === MAX_CANDIDATES) break;
    if (!isFarFrom(peak, chosen, depth, width)) continue;
    if (!isEnclosed(smoothed, toPoint(peak), threshold)) continue;
    chosen.push(peak);
  }
  return chosen.map(toPoint);
}

/** Rays cast from a candidate centre to test whether tissue surrounds it. */
const ENCLOSURE_RAYS = 16;
/** A candidate is open (a dark margin, not a lumen) when more rays than this reach the border. */
const MAX_OPEN_RAYS = 4;

/**
 * True when at most MAX_OPEN_RAYS of ENCLOSURE_RAYS rays from `centre` (frame coordinates) reach
 * the area border without meeting a pixel at or above the threshold. A lumen is walled in, but
 * the black margin beside an ultrasound sector or the far field below the image is not.
 */
function isEnclosed(smoothed: Raster<Float32Array>, centre: Point, threshold: number): boolean {
  let open = 0;
  for (let ray = 0; ray < ENCLOSURE_RAYS; ray++) {
    const angle = (2 * Math.PI * ray) / ENCLOSURE_RAYS;
    if (rayEscapes(smoothed, centre, Math.cos(angle), Math.sin(angle), threshold)) open++;
  }
  return open <= MAX_OPEN_RAYS;
}

function rayEscapes(
  smoothed: Raster<Float32Array>,
  centre: Point,
  dx: number,
  dy: number,
  threshold: number,
): boolean {
  for (let step = 0; ; step++) {
    const x = Math.round(centre.x - smoothed.x0 + step * dx);
    const y = Math.round(centre.y - smoothed.y0 + step * dy);
    if (x < 0 || y < 0 || x >= smoothed.width || y >= smoothed.height) return true;
    if (smoothed.data[y * smoothed.width + x]! >= threshold) return false;
  }
}

function localMaxima(depth: Float32Array, width: number, height: number): number[] {
  const peaks: number[] = [];
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const index = y * width + x;
      const value = depth[index]!;
      if (value < MIN_CANDIDATE_DEPTH_PX) continue;
      const isPeak =
        value >= depth[index - 1]! &&
        value >= depth[index + 1]! &&
        value >= depth[index - width]! &&
        value >= depth[index + width]!;
      if (isPeak) peaks.push(index);
    }
  }
  return peaks;
}

/** True when `index` and every chosen centre lie outside each other's inscribed discs. */
function isFarFrom(index: number, chosen: number[], depth: Float32Array, width: number): boolean {
  const x = index % width;
  const y = Math.floor(index / width);
  return chosen.every((other) => {
    const dx = (other % width) - x;
    const dy = Math.floor(other / width) - y;
    const reach = Math.max(depth[other]!, depth[index]!);
    return dx * dx + dy * dy > reach * reach;
  });
}

function touchesArea(lumen: LumenMask, area: Rect): boolean {
  const { bbox } = lumen;
  return (
    bbox.x <= area.x ||
    bbox.y <= area.y ||
    bbox.x + bbox.width >= area.x + area.width ||
    bbox.y + bbox.height >= area.y + area.height
  );
}

/**
 * Returns 4πA/P², 1 for a disc. The perimeter is the count of 4-neighbour boundary edges times
 * π/4, the mean projection factor over edge orientations, so a digital disc measures about 1.
 */
function compactness(lumen: LumenMask): number {
  const { mask, width, bbox } = lumen;
  let edges = 0;
  for (let y = bbox.y; y < bbox.y + bbox.height; y++) {
    for (let x = bbox.x; x < bbox.x + bbox.width; x++) {
      const index = y * width + x;
      if (mask[index] !== 1) continue;
      if (mask[index - 1] !== 1) edges++;
      if (mask[index + 1] !== 1) edges++;
      if (mask[index - width] !== 1) edges++;
      if (mask[index + width] !== 1) edges++;
    }
  }
  const perimeter = (edges * Math.PI) / 4;
  return Math.min(1, (4 * Math.PI * lumen.areaPx) / (perimeter * perimeter));
}

/** Returns the mean over frames of the share of lumen pixels below the lumen's threshold. */
function persistence(lumen: LumenMask, frames: GrayFrame[]): number {
  const { mask, width, bbox, threshold } = lumen;
  let share = 0;
  for (const frame of frames) {
    let dark = 0;
    for (let y = bbox.y; y < bbox.y + bbox.height; y++) {
      for (let x = bbox.x; x < bbox.x + bbox.width; x++) {
        const index = y * width + x;
        if (mask[index] === 1 && frame.data[index]! < threshold) dark++;
      }
    }
    share += dark / lumen.areaPx;
  }
  return share / frames.length;
}

function insidePoint(lumen: LumenMask, centre: Point): Point {
  const x = Math.round(lumen.centroid.x);
  const y = Math.round(lumen.centroid.y);
  return lumen.mask[y * lumen.width + x] === 1 ? { x, y } : centre;
}
