import type { Point, Rect } from '../core/image.ts';

/** Reason a segmentation found no lumen. */
export type LumenFailure =
  /** No pixel near the seed is darker than the threshold. */
  | 'no-dark-pixel'
  /** The region kept reaching the analysis window border or the area cap. */
  | 'leak'
  /** The region is smaller than the minimum area. */
  | 'too-small'
  /** The region is not clearly darker than the tissue around it. */
  | 'low-contrast';

/** Size and position of a lumen in one frame, in frame pixels. */
export interface LumenShape {
  found: boolean;
  areaPx: number;
  centroid: Point;
  bbox: Rect;
  /** Vertical extent of the lumen in the centroid's column, or the bbox height if that is empty. */
  apDiameterPx: number;
  /** Horizontal extent of the lumen in the centroid's row, or the bbox width if that is empty. */
  lateralDiameterPx: number;
}

/** A segmented lumen. When `found` is false the mask is empty and the sizes are 0. */
export interface LumenMask extends LumenShape {
  /** 1 inside the lumen, 0 elsewhere; `width` × `height`, row-major, the frame's size. */
  mask: Uint8Array;
  width: number;
  height: number;
  /** Grey level (0–255, on the smoothed frame) below which pixels counted as lumen. */
  threshold: number;
  /** Pixel the region grew from: the seed, or the darkest pixel near it. */
  startPoint: Point;
  /** Mean grey level (0–255, smoothed) inside the lumen; NaN when not found. */
  lumenLevel: number;
  /**
   * Mean grey level (0–255, smoothed) of a band 3σ + 2 px wide around the lumen (8 px at the
   * default smoothing); NaN when not found.
   */
  wallLevel: number;
  failure?: LumenFailure;
}

export interface SegmentOptions {
  /** Fixed grey threshold (0–255) on the smoothed frame; default Otsu's on the window. */
  threshold?: number;
  /** Standard deviation of the Gaussian smoothing, px; default 2. */
  smoothingSigmaPx?: number;
  /** How far from a bright seed to look for a dark start pixel, px; default 12. */
  seedSearchRadiusPx?: number;
  /** Half-size of the square window analysed around the seed, px; default 25 % of longer side. */
  windowRadiusPx?: number;
  /** Radius of the morphological closing, px; default 3. */
  closingRadiusPx?: number;
  /** Largest lumen accepted, as a fraction of the frame area; default 0.25. */
  maxAreaFraction?: number;
  /** Smallest lumen accepted, px; default 20. */
  minAreaPx?: number;
  /** Smallest accepted mean grey level around the lumen minus the mean inside it; default 10. */
  minContrast?: number;
  /** Smallest accepted ratio of that difference to the grey level around the lumen; default 0.2. */
  minContrastRatio?: number;
}

/** The lumen in one frame of a track. */
export interface TrackedLumen extends LumenShape {
  /**
   * True when the vein was judged fully collapsed: no lumen at the seed, right after a lumen much
   * smaller than the largest one tracked. Such a frame counts as found, with area 0.
   */
  collapsed: boolean;
  /** Seed used in this frame. */
  seed: Point;
  failure?: LumenFailure | 'area-jump';
}

export interface LumenTrack {
  /** One entry per input frame, in order. */
  perFrame: TrackedLumen[];
  /** Fraction of frames with `found` true, 0–1. */
  trackedFraction: number;
  /** Threshold of the first frame with a lumen, reused for later frames by default; NaN if none. */
  threshold: number;
}

export interface TrackOptions extends SegmentOptions {
  /** Reuse the first found frame's threshold for all later frames; default true. */
  reuseThreshold?: boolean;
  /** A lumen more than this many times the largest area accepted so far is a leak; default 3. */
  maxAreaGrowth?: number;
  /**
   * A lost lumen counts as collapsed when the previous area was at most this fraction of the
   * largest area tracked so far; default 0.25.
   */
  collapseFraction?: number;
}
