import type { GrayFrame, Point } from '../core/image.ts';
import { clamp, uniform, type Random } from './random.ts';

/** Mean tissue echo and the other grey levels, as fractions of full scale (255). */
const TISSUE_LEVEL = 0.5;
const LUMEN_LEVEL = 0.035;
const LUMEN_SPECKLE = 0.03;
const WALL_LEVEL = 0.8;
/** Speckle decorrelation time, s; frames closer than this share most of their texture. */
const SPECKLE_CORRELATION_S = 0.6;

/** An elliptical lumen: centre and full diameters in pixels, AP along the image vertical. */
export interface LumenEllipse {
  centre: Point;
  apPx: number;
  lateralPx: number;
}

/** Static tissue echogenicity (before speckle), row-major, plus the grid size. */
export interface TissueMap {
  width: number;
  height: number;
  echo: Float32Array;
}

/** Sum of a few seeded plane waves, scaled to −1…1: large-scale tissue inhomogeneity. */
function tissueTexture(random: Random, width: number, height: number): Float32Array {
  const waves = Array.from({ length: 4 }, () => {
    const angle = uniform(random, 0, Math.PI);
    const wavelength = uniform(random, 0.2, 0.6) * height;
    return {
      kx: (Math.cos(angle) * 2 * Math.PI) / wavelength,
      ky: (Math.sin(angle) * 2 * Math.PI) / wavelength,
      phase: uniform(random, 0, 2 * Math.PI),
    };
  });
  const texture = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (const wave of waves) sum += Math.sin(wave.kx * x + wave.ky * y + wave.phase);
      texture[y * width + x] = sum / waves.length;
    }
  }
  return texture;
}

/** Depth of each fascia line per column, pixels; lines run roughly horizontally. */
function fasciaDepths(random: Random, width: number, height: number): Float32Array[] {
  return [uniform(random, 0.12, 0.22), uniform(random, 0.75, 0.9)].map((depth) => {
    const tilt = uniform(random, -0.05, 0.05);
    const phase = uniform(random, 0, 2 * Math.PI);
    const line = new Float32Array(width);
    for (let x = 0; x < width; x++) {
      const wave = 0.015 * Math.sin((2 * Math.PI * x) / width + phase);
      line[x] = (depth + tilt * (x / width - 0.5) + wave) * height;
    }
    return line;
  });
}

/**
 * Brightness gain under a fluid-filled vessel (posterior acoustic enhancement): fluid attenuates
 * less than tissue, so echoes from below it are stronger.
 */
function posteriorEnhancement(x: number, y: number, lumen: LumenEllipse): number {
  const below = y - lumen.centre.y;
  if (below <= 0) return 1;
  const lateral = (x - lumen.centre.x) / (lumen.lateralPx / 2);
  const ramp = Math.min(1, below / lumen.apPx);
  return 1 + 0.3 * ramp * Math.exp(-(lateral ** 4));
}

/**
 * Builds the static echogenicity map: tissue level with large-scale texture and depth
 * attenuation (partly compensated, as time-gain compensation does), a bright near-field band,
 * two fascia lines and posterior enhancement under the relaxed lumen.
 */
export function buildTissueMap(
  random: Random,
  width: number,
  height: number,
  relaxedLumen: LumenEllipse,
): TissueMap {
  const texture = tissueTexture(random, width, height);
  const fascia = fasciaDepths(random, width, height);
  const fasciaHalfWidth = Math.max(1, 0.008 * height);
  const echo = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const depthGain = Math.exp((-0.35 * y) / height);
    const nearField = 0.3 * Math.exp(-y / (0.04 * height));
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      let level = TISSUE_LEVEL * (0.8 + 0.2 * texture[i]!) * depthGain + nearField;
      for (const line of fascia)
        level += 0.3 * Math.exp(-(((y - line[x]!) / fasciaHalfWidth) ** 2));
      echo[i] = level * posteriorEnhancement(x, y, relaxedLumen);
    }
  }
  return { width, height, echo };
}

/** Grain radii in pixels: the beam is wider laterally than the pulse is long axially. */
interface GrainRadius {
  lateral: number;
  axial: number;
}

/*
 * The box blurs below wrap around at the image border, so that the speckle statistics stay the
 * same up to the edge. Both need radius < width and radius < height.
 */

function horizontalBoxBlur(
  source: Float32Array,
  target: Float32Array,
  width: number,
  height: number,
  radius: number,
): void {
  const scale = 1 / (2 * radius + 1);
  for (let row = 0; row < height * width; row += width) {
    let sum = 0;
    for (let k = -radius; k <= radius; k++) sum += source[row + ((k + width) % width)]!;
    for (let x = 0; x < width; x++) {
      target[row + x] = sum * scale;
      const entering = x + radius + 1 < width ? x + radius + 1 : x + radius + 1 - width;
      const leaving = x - radius >= 0 ? x - radius : x - radius + width;
      sum += source[row + entering]! - source[row + leaving]!;
    }
  }
}

/** Runs the vertical pass row by row, with one running sum per column, to read memory in order. */
function verticalBoxBlur(
  source: Float32Array,
  target: Float32Array,
  columnSums: Float64Array,
  width: number,
  height: number,
  radius: number,
): void {
  const scale = 1 / (2 * radius + 1);
  columnSums.fill(0);
  for (let k = -radius; k <= radius; k++) {
    const row = ((k + height) % height) * width;
    for (let x = 0; x < width; x++) columnSums[x]! += source[row + x]!;
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const entering = ((y + radius + 1) % height) * width;
    const leaving = ((y - radius + height) % height) * width;
    for (let x = 0; x < width; x++) {
      target[row + x] = columnSums[x]! * scale;
      columnSums[x]! += source[entering + x]! - source[leaving + x]!;
    }
  }
}

/**
 * Mean of √A for a Rayleigh amplitude A of scale 1: 2^(1/4) · Γ(5/4), with Γ(5/4) ≈ 0.906402.
 * The square root approximates the scanner's log compression of the echo amplitude.
 */
const COMPRESSED_RAYLEIGH_MEAN = 2 ** 0.25 * 0.906402;

/**
 * Speckle: a complex random field that decorrelates as an AR(1) process between frames and is
 * box-blurred in space. Its magnitude is Rayleigh-distributed when the blurred field is Gaussian.
 */
export class SpeckleField {
  private readonly real: Float32Array;
  private readonly imaginary: Float32Array;
  private readonly blurredReal: Float32Array;
  private readonly blurredImaginary: Float32Array;
  private readonly scratch: Float32Array;
  private readonly columnSums: Float64Array;
  private readonly grain: GrainRadius;

  constructor(
    private readonly random: Random,
    private readonly width: number,
    private readonly height: number,
  ) {
    const pixels = width * height;
    this.real = new Float32Array(pixels);
    this.imaginary = new Float32Array(pixels);
    this.blurredReal = new Float32Array(pixels);
    this.blurredImaginary = new Float32Array(pixels);
    this.scratch = new Float32Array(pixels);
    this.columnSums = new Float64Array(width);
    // The grain scales with the image, so that crops resampled to the model input look alike.
    const axial = Math.max(1, Math.round(height / 160));
    this.grain = { axial, lateral: 2 * axial };
    this.advance(0);
  }

  /** Moves the field on by `correlation` (0 draws a fresh field, 1 keeps it). */
  advance(correlation: number): void {
    const innovation = Math.sqrt(1 - correlation * correlation);
    // Uniform innovations of unit variance; the spatial blur makes the sum close to Gaussian.
    // Each 32-bit draw gives two 16-bit uniforms, which is fine resolution for blurred noise.
    const step = (innovation * Math.sqrt(12)) / 65536;
    const { real, imaginary, random } = this;
    for (let i = 0; i < real.length; i++) {
      const bits = random.nextUint32();
      real[i] = correlation * real[i]! + step * ((bits & 0xffff) - 32767.5);
      imaginary[i] = correlation * imaginary[i]! + step * ((bits >>> 16) - 32767.5);
    }
  }

  /** Writes the display-compressed speckle amplitude, scaled to mean 1, into `target`. */
  amplitude(target: Float32Array): void {
    this.blur(this.real, this.blurredReal);
    this.blur(this.imaginary, this.blurredImaginary);
    const { grain } = this;
    // Each blurred component has variance 1/n over n = (2·lateral+1)(2·axial+1) samples, so
    // √n·|z| is Rayleigh-distributed with scale 1.
    const toUnitScale = (2 * grain.lateral + 1) * (2 * grain.axial + 1);
    for (let i = 0; i < target.length; i++) {
      const re = this.blurredReal[i]!;
      const im = this.blurredImaginary[i]!;
      const amplitude = Math.sqrt((re * re + im * im) * toUnitScale);
      target[i] = Math.sqrt(amplitude) / COMPRESSED_RAYLEIGH_MEAN;
    }
  }

  private blur(source: Float32Array, target: Float32Array): void {
    const { width, height, grain } = this;
    horizontalBoxBlur(source, this.scratch, width, height, grain.lateral);
    verticalBoxBlur(this.scratch, target, this.columnSums, width, height, grain.axial);
  }
}

/** Speckle correlation between consecutive frames at `fps`. */
export function frameCorrelation(fps: number): number {
  return Math.exp(-1 / (fps * SPECKLE_CORRELATION_S));
}

/** Radial distance from the ellipse boundary along the ray from its centre, pixels; < 0 inside. */
function distanceToBoundary(dx: number, dy: number, semiLateral: number, semiAp: number): number {
  const radius = Math.sqrt(dx * dx + dy * dy);
  const normalised = Math.sqrt((dx / semiLateral) ** 2 + (dy / semiAp) ** 2);
  if (normalised === 0) return -Math.min(semiLateral, semiAp);
  return radius * (1 - 1 / normalised);
}

/** Grey level of a pixel near the lumen, blending tissue, bright wall and dark blood. */
function lumenPixel(
  tissue: number,
  speckle: number,
  dx: number,
  dy: number,
  lumen: LumenEllipse,
  wallWidth: number,
): number {
  const distance = distanceToBoundary(dx, dy, lumen.lateralPx / 2, lumen.apPx / 2);
  const inside = clamp(0.5 - distance, 0, 1);
  const wallWeight = Math.exp(-(((distance - 0.8 * wallWidth) / wallWidth) ** 2));
  // Walls facing the beam (top and bottom) reflect specularly and look brighter than side walls.
  const radius = Math.sqrt(dx * dx + dy * dy) || 1;
  const facing = 0.35 + 0.65 * (dy / radius) ** 2;
  const wall = WALL_LEVEL * facing * (0.7 + 0.3 * speckle);
  const outside = (1 - wallWeight) * tissue + wallWeight * Math.max(wall, tissue);
  const blood = LUMEN_LEVEL + LUMEN_SPECKLE * speckle;
  return (1 - inside) * outside + inside * blood;
}

/** Renders one 8-bit frame from the tissue map, the current speckle amplitude and the lumen. */
export function renderFrame(
  tissue: TissueMap,
  speckle: Float32Array,
  lumen: LumenEllipse,
): GrayFrame {
  const { width, height, echo } = tissue;
  // A clamped array rounds and clips to 0–255 on assignment.
  const levels = new Uint8ClampedArray(width * height);
  const wallWidth = Math.max(1.2, 0.012 * height);
  const margin = 4 * wallWidth;
  const left = lumen.centre.x - lumen.lateralPx / 2 - margin;
  const right = lumen.centre.x + lumen.lateralPx / 2 + margin;
  const top = lumen.centre.y - lumen.apPx / 2 - margin;
  const bottom = lumen.centre.y + lumen.apPx / 2 + margin;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      let level = echo[i]! * speckle[i]!;
      if (x >= left && x <= right && y >= top && y <= bottom) {
        const dx = x + 0.5 - lumen.centre.x;
        const dy = y + 0.5 - lumen.centre.y;
        level = lumenPixel(level, speckle[i]!, dx, dy, lumen, wallWidth);
      }
      levels[i] = level * 255;
    }
  }
  return { width, height, channels: 1, data: new Uint8Array(levels.buffer) };
}
