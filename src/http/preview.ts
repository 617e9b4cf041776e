import { PNG } from 'pngjs';

import { cropToImageArea } from '../capture/crop.ts';
import type { FrameSource, TimedFrame } from '../core/frames.ts';
import { toGray, type Frame, type GrayFrame, type Point, type Rect } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import { findVesselSeed, segmentLumen } from '../vessel/index.ts';

/** Maximum side of a preview image, px; larger frames are shrunk by an integer factor. */
const MAX_PREVIEW_SIDE = 480;

/** Frames kept for finding the vessel again after it was lost; about 1 s at 8 previews/s. */
const SEARCH_FRAMES = 8;

/** A lost vessel is searched for again at most this often, ms, because the search is slow. */
const SEARCH_INTERVAL_MS = 1000;

const OUTLINE_RGB = [0, 230, 118] as const;
const AREA_RGB = [255, 196, 0] as const;

/**
 * Renders the live previews of the page from the latest frame of the capture source: the image
 * area with the tracked lumen outlined, and the whole frame with the image area drawn. Only the
 * set-up preview shows pixels outside the image area, where patient details are burned in.
 * Each image is computed on request and reused until the next frame arrives.
 */
export class PreviewRenderer {
  private latest: TimedFrame | null = null;
  private readonly recent: GrayFrame[] = [];
  private seed: Point | null = null;
  private lastSearchMs = 0;
  private lumenCache: { frame: TimedFrame; png: Buffer } | null = null;
  private setupCache: { frame: TimedFrame; png: Buffer } | null = null;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly source: FrameSource,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = source.subscribe((frame) => {
      this.latest = frame;
    });
  }

  close(): void {
    this.unsubscribe();
  }

  /** PNG of the image area with the lumen outlined; null when no frame or image area is known. */
  lumenPreview(): Buffer | null {
    const frame = this.latest;
    const area = this.source.imageArea();
    if (!frame || !area) return null;
    if (this.lumenCache?.frame === frame) return this.lumenCache.png;
    const gray = shrink(toGray(cropToImageArea(frame.frame, area)));
    const outline = this.trackLumen(gray);
    const rgb = toRgb(gray);
    if (outline) paintMask(rgb, outline, OUTLINE_RGB);
    const png = encodePng(rgb);
    this.lumenCache = { frame, png };
    return png;
  }

  /** PNG of the whole frame with the image area drawn; null before the first frame. */
  setupPreview(): Buffer | null {
    const frame = this.latest;
    if (!frame) return null;
    if (this.setupCache?.frame === frame) return this.setupCache.png;
    const factor = shrinkFactor(frame.frame);
    const rgb = toRgb(shrink(toGray(frame.frame)));
    const area = this.source.imageArea();
    if (area) drawRect(rgb, scaleRect(area, factor), AREA_RGB);
    const png = encodePng(rgb);
    this.setupCache = { frame, png };
    return png;
  }

  /**
   * Segments the lumen at the last centroid and returns its outline mask, or null when it is
   * lost. A lost lumen is searched for on the recent frames, at most once a second.
   */
  private trackLumen(gray: GrayFrame): Uint8Array | null {
    this.recent.push(gray);
    if (this.recent.length > SEARCH_FRAMES) this.recent.shift();
    if (!this.seed && Date.now() - this.lastSearchMs >= SEARCH_INTERVAL_MS) {
      this.lastSearchMs = Date.now();
      this.seed = this.searchSeed(gray);
    }
    if (!this.seed) return null;
    try {
      const lumen = segmentLumen(gray, this.seed);
      this.seed = lumen.found ? roundPoint(lumen.centroid) : null;
      return lumen.found ? outlineOf(lumen.mask, gray.width, gray.height) : null;
    } catch (error) {
      // A seed outside a frame whose size changed: search again on the next request.
      this.logger.debug({ err: error }, 'preview lumen tracking failed');
      this.seed = null;
      return null;
    }
  }

  private searchSeed(gray: GrayFrame): Point | null {
    const sameSize = this.recent.filter(
      (frame) => frame.width === gray.width && frame.height === gray.height,
    );
    try {
      return findVesselSeed(sameSize, { x: 0, y: 0, width: gray.width, height: gray.height });
    } catch (error) {
      this.logger.debug({ err: error }, 'preview vessel search failed');
      return null;
    }
  }
}

function shrinkFactor(frame: Frame): number {
  return Math.max(1, Math.ceil(Math.max(frame.width, frame.height) / MAX_PREVIEW_SIDE));
}

/** Shrinks a grey frame by an integer factor, keeping every factor-th pixel. */
function shrink(frame: GrayFrame): GrayFrame {
  const factor = shrinkFactor(frame);
  if (factor === 1) return frame;
  const width = Math.floor(frame.width / factor);
  const height = Math.floor(frame.height / factor);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data[y * width + x] = frame.data[y * factor * frame.width + x * factor]!;
    }
  }
  return { width, height, channels: 1, data };
}

function scaleRect(rect: Rect, factor: number): Rect {
  return {
    x: Math.floor(rect.x / factor),
    y: Math.floor(rect.y / factor),
    width: Math.floor(rect.width / factor),
    height: Math.floor(rect.height / factor),
  };
}

function roundPoint(point: Point): Point {
  return { x: Math.round(point.x), y: Math.round(point.y) };
}

/** Marks the lumen pixels that touch a pixel outside the lumen, widened to 2 px. */
function outlineOf(mask: Uint8Array, width: number, height: number): Uint8Array {
  const outline = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      const edge =
        x === 0 ||
        y === 0 ||
        x === width - 1 ||
        y === height - 1 ||
        !mask[i - 1] ||
        !mask[i + 1] ||
        !mask[i - width] ||
        !mask[i + width];
      if (!edge) continue;
      outline[i] = 1;
      if (x + 1 < width) outline[i + 1] = 1;
      if (y + 1 < height) outline[i + width] = 1;
    }
  }
  return outline;
}

function toRgb(gray: GrayFrame): Frame {
  const data = new Uint8Array(gray.width * gray.height * 3);
  for (let i = 0; i < gray.data.length; i++) {
    const value = gray.data[i]!;
    data[i * 3] = value;
    data[i * 3 + 1] = value;
    data[i * 3 + 2] = value;
  }
  return { width: gray.width, height: gray.height, channels: 3, data };
}

function paintMask(rgb: Frame, mask: Uint8Array, color: readonly number[]): void {
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) rgb.data.set(color, i * 3);
  }
}

/** Draws a 2 px rectangle outline, clipped to the frame. */
function drawRect(rgb: Frame, rect: Rect, color: readonly number[]): void {
  const paint = (x: number, y: number): void => {
    if (x >= 0 && y >= 0 && x < rgb.width && y < rgb.height) {
      rgb.data.set(color, (y * rgb.width + x) * 3);
    }
  };
  const right = rect.x + rect.width - 1;
  const bottom = rect.y + rect.height - 1;
  for (let t = 0; t < 2; t++) {
    for (let x = rect.x; x <= right; x++) {
      paint(x, rect.y + t);
      paint(x, bottom - t);
    }
    for (let y = rect.y; y <= bottom; y++) {
      paint(rect.x + t, y);
      paint(right - t, y);
    }
  }
}

function encodePng(rgb: Frame): Buffer {
  const png = new PNG({ width: rgb.width, height: rgb.height, colorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(rgb.data.buffer, rgb.data.byteOffset, rgb.data.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}
