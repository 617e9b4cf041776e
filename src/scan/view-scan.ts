import { basename } from 'node:path';
import { decodeClip } from '../capture/decode.ts';
import { detectImageArea } from '../capture/image-area.ts';
import { BvEdgeError } from '../core/errors.ts';
import { toGray, type Clip, type Point, type Rect, type ViewName } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import type { InferenceEngine } from '../inference/engine.ts';
import { cropAndResample } from '../inference/preprocess.ts';
import { computeMeasurements, findVesselSeed, trackLumen } from '../vessel/index.ts';
import type { ViewResult } from './types.ts';

/**
 * Imaging depth assumed for each view when the operator gives none, in cm. Scanner video carries
 * no pixel spacing, so millimetres per pixel come from this depth over the image area height.
 * NOTE: 4 cm for a linear probe on the neck and 16 cm for a curved probe on the IVC are typical
 * presets, not measured ones. Pass the scanner's depth when it is known.
 */
export const DEFAULT_DEPTH_CM: Record<ViewName, number> = { ijv: 4, scv: 4, ca: 4, ivc: 16 };

/** The crop fed to a view model is never smaller than this, in source pixels. */
const MIN_CROP_SIDE_PX = 32;

export interface ViewInput {
  view: ViewName;
  path: string;
  seed?: Point;
  depthCm?: number;
  /** Known pixel spacing, mm per source pixel; takes precedence over `depthCm`. */
  mmPerPixel?: number;
  /** Image area set by the operator or found by live capture; detected from the clip if absent. */
  imageArea?: Rect;
}

/** Decodes one clip file and analyses it. */
export async function scanView(
  input: ViewInput,
  engine: InferenceEngine,
  logger: Logger,
): Promise<ViewResult> {
  const spec = engine.bundle.manifest.views[input.view];
  const clip = await decodeClip(input.path, { pixelFormat: spec.input.pixelFormat });
  return analyseClip(clip, input, engine, logger);
}

/**
 * Finds and tracks the vessel in a decoded clip, measures it and runs the view model. The clip
 * may come from a file or from live capture; `input.path` only names it in messages.
 */
export async function analyseClip(
  clip: Clip,
  input: ViewInput,
  engine: InferenceEngine,
  logger: Logger,
): Promise<ViewResult> {
  const log = logger.child({ view: input.view, file: basename(input.path) });
  const spec = engine.bundle.manifest.views[input.view];
  log.debug({ frames: clip.frames.length, fps: clip.fps }, 'analysing clip');
  if (input.seed) checkSeed(input, clip.width, clip.height);
  checkClipLength(clip, input);

  const imageArea =
    input.imageArea ?? detectImageArea(clip, input.seed ? { near: input.seed } : {});
  const grayFrames = clip.frames.map(toGray);
  const seed = input.seed ?? findVesselSeed(grayFrames, imageArea);
  if (!seed) {
    throw new BvEdgeError(
      'vessel_not_found',
      `No vessel found in the ${input.view} clip ${input.path}. ` +
        `Pass --seed ${input.view}=X,Y with a point inside the lumen, in source pixels.`,
      { value: input.path },
    );
  }
  const track = trackLumen(grayFrames, seed);
  const depthCm = input.depthCm ?? DEFAULT_DEPTH_CM[input.view];
  const mmPerPixel = input.mmPerPixel ?? (depthCm * 10) / imageArea.height;
  const { measurements, areaSeriesMm2 } = computeMeasurements(
    input.view,
    track,
    clip.timestampsS,
    mmPerPixel,
  );
  if (measurements.trackedFraction < 0.5) {
    throw new BvEdgeError(
      'vessel_lost',
      `The ${input.view} lumen was tracked in only ${Math.round(measurements.trackedFraction * 100)} % ` +
        `of the frames of ${input.path}. Rescan with the probe still, or pass --seed ${input.view}=X,Y.`,
      { value: input.path },
    );
  }

  checkPlausible(input, measurements);

  const { centre, sidePx } = cropWindow(track.perFrame, imageArea, spec.input.cropScale);
  const { tensor, shortClip } = cropAndResample(
    clip.frames,
    clip.timestampsS,
    centre,
    sidePx,
    spec.input,
  );
  if (shortClip) log.warn('clip is shorter than the model window; the last frame is held');
  const features = await engine.runView(input.view, tensor);

  return {
    view: input.view,
    source: basename(input.path),
    imageArea,
    seed,
    seeded: input.seed !== undefined,
    frameCount: clip.frames.length,
    fps: clip.fps,
    durationS: clip.frames.length / clip.fps,
    mmPerPixel,
    measurements,
    areaSeriesMm2,
    features: Array.from(features),
  };
}

/** A view needs at least this much video: one still image carries no lumen dynamics. */
const MIN_CLIP_SECONDS = 1;
const MIN_CLIP_FRAMES = 8;

function checkClipLength(clip: Clip, input: ViewInput): void {
  const seconds = clip.frames.length / clip.fps;
  if (clip.frames.length < MIN_CLIP_FRAMES || seconds < MIN_CLIP_SECONDS) {
    throw new BvEdgeError(
      'clip_too_short',
      `The ${input.view} clip ${input.path} has ${clip.frames.length} frame(s), ` +
        `${seconds.toFixed(2)} s; a view needs at least ${MIN_CLIP_SECONDS} s and ` +
        `${MIN_CLIP_FRAMES} frames of video. Record a longer clip.`,
      { value: input.path },
    );
  }
}

/**
 * Upper limits of the lumen's AP diameter, mm, far above any adult vessel of that view, so that
 * only a region that is not the vessel (background, a panel gap, a Doppler trace) exceeds them.
 * They are rejection limits, not reference ranges.
 */
const MAX_AP_DIAMETER_MM: Record<ViewName, number> = { ijv: 35, scv: 30, ivc: 40, ca: 15 };
/** An arterial lumen's area varies by far less than its mean over a beat. */
const MAX_PULSATILITY_INDEX = 1.5;

function checkPlausible(input: ViewInput, measurements: ViewResult['measurements']): void {
  const apMax = measurements.apDiameterMm.max;
  const limit = MAX_AP_DIAMETER_MM[input.view];
  const pulsatility = measurements.pulsatilityIndex;
  let problem: string | undefined;
  if (apMax > limit) problem = `AP diameter up to ${apMax.toFixed(1)} mm, above ${limit} mm`;
  else if (pulsatility !== undefined && pulsatility > MAX_PULSATILITY_INDEX) {
    problem = `pulsatility index ${pulsatility.toFixed(2)}, above ${MAX_PULSATILITY_INDEX}`;
  }
  if (problem === undefined) return;
  const fix = input.seed
    ? `Move --seed ${input.view}=X,Y inside the lumen`
    : `Pass --seed ${input.view}=X,Y with a point inside the lumen`;
  throw new BvEdgeError(
    'implausible_measurement',
    `The region tracked as ${input.view} in ${input.path} is probably not the vessel ` +
      `(${problem}). ${fix}, or give the imaging depth with --depth-cm ${input.view}=N.`,
    { value: input.path },
  );
}

function checkSeed(input: ViewInput, width: number, height: number): void {
  const seed = input.seed!;
  if (seed.x < 0 || seed.y < 0 || seed.x >= width || seed.y >= height) {
    throw new BvEdgeError(
      'seed_outside_frame',
      `Seed ${input.view}=${seed.x},${seed.y} is outside the ${width}x${height} frame of ` +
        `${input.path}. Give X in 0–${width - 1} and Y in 0–${height - 1}.`,
      { value: seed },
    );
  }
}

/** Centres the model crop on the median lumen centroid, sized to the largest lumen seen. */
function cropWindow(
  perFrame: { found: boolean; centroid: Point; areaPx: number }[],
  imageArea: Rect,
  cropScale: number,
): { centre: Point; sidePx: number } {
  const found = perFrame.filter((frame) => frame.found);
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
  };
  const centre = {
    x: median(found.map((frame) => frame.centroid.x)),
    y: median(found.map((frame) => frame.centroid.y)),
  };
  const maxArea = Math.max(...found.map((frame) => frame.areaPx));
  const equivalentDiameter = 2 * Math.sqrt(maxArea / Math.PI);
  const limit = Math.min(imageArea.width, imageArea.height);
  const sidePx = Math.min(limit, Math.max(MIN_CROP_SIDE_PX, cropScale * equivalentDiameter));
  return { centre, sidePx };
}
