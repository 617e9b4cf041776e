import type { GrayFrame, Point, ViewName } from '../core/image.ts';
import { isViewName } from '../core/image.ts';
import { BvEdgeError } from '../core/errors.ts';
import {
  VESSEL_ANATOMY,
  drawPhysiology,
  vesselDiameters,
  type PhantomPhysiology,
  type VesselDiameters,
} from './physiology.ts';
import { deriveSeed, mulberry32 } from './random.ts';
import {
  SpeckleField,
  buildTissueMap,
  frameCorrelation,
  renderFrame,
  type LumenEllipse,
} from './render.ts';

export interface PhantomClipOptions {
  view: ViewName;
  /** True blood volume over the normal (Nadler) volume; 1 is normovolaemic, below 1 hypovolaemic. */
  volumeState: number;
  seconds: number;
  fps: number;
  width: number;
  height: number;
  seed: number;
  /** Fix the rates, e.g. to share them between the views of one patient; drawn from the seed otherwise. */
  heartRateBpm?: number;
  respiratoryRateBpm?: number;
  /** Depth of breathing, multiplying the venous respiratory collapse; default 1. */
  respiratoryEffort?: number;
}

/** Ground truth of a phantom clip, in pixels of the generated frames. */
export interface PhantomTruth {
  centre: Point;
  apDiameterMaxPx: number;
  apDiameterMinPx: number;
  /** (APmax − APmin) / APmax over the generated frames. */
  collapsibilityIndex: number;
  /** Mean lumen area π/4 · AP · lateral over the frames, px². */
  areaMeanPx: number;
  /** Maximum of the equivalent diameter √(AP · lateral), px; the crop size is a multiple of it. */
  equivalentDiameterMaxPx: number;
  heartRateBpm: number;
  respiratoryRateBpm: number;
  /** Millimetres per pixel implied by the view's imaging depth. */
  mmPerPixel: number;
  apDiameterSeriesPx: number[];
  areaSeriesPx: number[];
}

export interface PhantomClip {
  frames: GrayFrame[];
  timestampsS: number[];
  truth: PhantomTruth;
}

function invalidOption(name: string, value: unknown, expected: string): BvEdgeError {
  return new BvEdgeError(
    'phantom_invalid_option',
    `Invalid phantom option ${name}: ${String(value)}; expected ${expected}.`,
    { value },
  );
}

function validateOptions(options: PhantomClipOptions): void {
  if (!isViewName(options.view)) throw invalidOption('view', options.view, 'ijv, scv, ivc or ca');
  if (!(options.volumeState >= 0.4 && options.volumeState <= 1.6)) {
    throw invalidOption('volumeState', options.volumeState, 'a ratio between 0.4 and 1.6');
  }
  if (!(options.fps > 0 && options.seconds > 0 && Math.round(options.seconds * options.fps) >= 2)) {
    throw invalidOption(
      'seconds × fps',
      `${options.seconds} × ${options.fps}`,
      'at least 2 frames',
    );
  }
  for (const name of ['width', 'height'] as const) {
    const size = options[name];
    if (!Number.isInteger(size) || size < 32 || size > 4096) {
      throw invalidOption(name, size, 'an integer between 32 and 4096 pixels');
    }
  }
  if (!Number.isInteger(options.seed)) throw invalidOption('seed', options.seed, 'an integer');
  const { respiratoryEffort } = options;
  if (respiratoryEffort !== undefined && !(respiratoryEffort > 0 && respiratoryEffort < 5)) {
    throw invalidOption('respiratoryEffort', respiratoryEffort, 'a factor between 0 and 5');
  }
}

function summariseTruth(
  centre: Point,
  diameters: VesselDiameters,
  physiology: PhantomPhysiology,
  mmPerPixel: number,
): PhantomTruth {
  const apMax = Math.max(...diameters.apPx);
  const apMin = Math.min(...diameters.apPx);
  const areas = diameters.apPx.map((ap, i) => (Math.PI / 4) * ap * diameters.lateralPx[i]!);
  const equivalent = diameters.apPx.map((ap, i) => Math.sqrt(ap * diameters.lateralPx[i]!));
  return {
    centre,
    apDiameterMaxPx: apMax,
    apDiameterMinPx: apMin,
    collapsibilityIndex: (apMax - apMin) / apMax,
    areaMeanPx: areas.reduce((sum, area) => sum + area, 0) / areas.length,
    equivalentDiameterMaxPx: Math.max(...equivalent),
    heartRateBpm: physiology.heartRateBpm,
    respiratoryRateBpm: physiology.respiratoryRateBpm,
    mmPerPixel,
    apDiameterSeriesPx: diameters.apPx,
    areaSeriesPx: areas,
  };
}

/**
 * Generates a synthetic B-mode clip of one vessel view: speckled tissue with a near-field band,
 * fascia and depth attenuation, and a dark elliptical lumen with a bright wall whose diameters
 * follow breathing and the heartbeat. The same options give the same frames.
 */
export function generatePhantomClip(options: PhantomClipOptions): PhantomClip {
  validateOptions(options);
  const { view, volumeState, fps, width, height } = options;
  const anatomy = VESSEL_ANATOMY[view];
  const physiologyRandom = mulberry32(deriveSeed(options.seed, 1));
  const physiology = drawPhysiology(physiologyRandom, volumeState, options);

  const frameCount = Math.round(options.seconds * fps);
  const timestampsS = Array.from({ length: frameCount }, (_, k) => k / fps);
  const diameters = vesselDiameters(anatomy, volumeState, physiology, timestampsS, height);
  const centre = { x: anatomy.centreX * width, y: anatomy.centreY * height };

  const relaxed: LumenEllipse = {
    centre,
    apPx: Math.max(...diameters.apPx),
    lateralPx: Math.max(...diameters.lateralPx),
  };
  const tissue = buildTissueMap(mulberry32(deriveSeed(options.seed, 2)), width, height, relaxed);
  const speckle = new SpeckleField(mulberry32(deriveSeed(options.seed, 3)), width, height);
  const amplitude = new Float32Array(width * height);
  const correlation = frameCorrelation(fps);

  const frames: GrayFrame[] = [];
  for (let k = 0; k < frameCount; k++) {
    if (k > 0) speckle.advance(correlation);
    speckle.amplitude(amplitude);
    const lumen = { centre, apPx: diameters.apPx[k]!, lateralPx: diameters.lateralPx[k]! };
    frames.push(renderFrame(tissue, amplitude, lumen));
  }
  const mmPerPixel = anatomy.imageDepthMm / height;
  return { frames, timestampsS, truth: summariseTruth(centre, diameters, physiology, mmPerPixel) };
}
