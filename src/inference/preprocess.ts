import { BvEdgeError } from '../core/errors.ts';
import { toGray, type Frame, type Point } from '../core/image.ts';
import type { ViewInputSpec } from './manifest.ts';

export interface CropResult {
  /** Model input in the manifest layout: [1, T, H, W] for gray8, [1, T, H, W, 3] for rgb24. */
  tensor: Float32Array;
  /** True when the clip ended before the model window and the last frame was repeated. */
  shortClip: boolean;
  /** Index into the source frames of each model frame. */
  frameIndices: number[];
}

function invalidInput(message: string, value: unknown): BvEdgeError {
  return new BvEdgeError('preprocess_invalid_input', message, { value });
}

function checkInputs(
  frames: readonly Frame[],
  timestampsS: readonly number[],
  centre: Point,
  sidePx: number,
): void {
  if (frames.length === 0) throw invalidInput('Cannot crop an empty clip: no frames.', 0);
  if (timestampsS.length !== frames.length) {
    throw invalidInput(
      `Clip has ${frames.length} frames but ${timestampsS.length} timestamps; expected one timestamp per frame.`,
      timestampsS.length,
    );
  }
  for (let i = 0; i < timestampsS.length; i++) {
    const previous = i > 0 ? timestampsS[i - 1]! : -Infinity;
    if (!Number.isFinite(timestampsS[i]) || timestampsS[i]! < previous) {
      throw invalidInput(
        `Invalid timestamp ${timestampsS[i]} s at frame ${i}; expected finite, non-decreasing times.`,
        i,
      );
    }
  }
  const { width, height } = frames[0]!;
  if (frames.some((frame) => frame.width !== width || frame.height !== height)) {
    throw invalidInput(
      `Clip frames differ in size; expected every frame ${width}x${height}.`,
      width,
    );
  }
  if (!Number.isFinite(centre.x) || !Number.isFinite(centre.y)) {
    throw invalidInput(
      `Invalid crop centre (${centre.x}, ${centre.y}); expected finite pixel coordinates.`,
      centre,
    );
  }
  if (!Number.isFinite(sidePx) || sidePx < 1) {
    throw invalidInput(
      `Invalid crop side ${sidePx} px; expected a finite number of at least 1.`,
      sidePx,
    );
  }
}

/** Typical spacing of the source frames, s; one model interval when there is a single frame. */
function sourceFrameInterval(timestampsS: readonly number[], rateHz: number): number {
  if (timestampsS.length < 2) return 1 / rateHz;
  const gaps = timestampsS.slice(1).map((t, i) => t - timestampsS[i]!);
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

/**
 * Picks, for each model frame k at t0 + k / rateHz, the source frame with the nearest timestamp.
 * Model frames more than half a source interval past the last frame repeat the last frame.
 */
export function selectFrames(
  timestampsS: readonly number[],
  frames: number,
  rateHz: number,
): { frameIndices: number[]; shortClip: boolean } {
  const start = timestampsS[0]!;
  const last = timestampsS.length - 1;
  const slack = sourceFrameInterval(timestampsS, rateHz) / 2;
  const frameIndices: number[] = [];
  let shortClip = false;
  let index = 0;
  for (let k = 0; k < frames; k++) {
    const target = start + k / rateHz;
    while (
      index < last &&
      Math.abs(timestampsS[index + 1]! - target) <= Math.abs(timestampsS[index]! - target)
    ) {
      index += 1;
    }
    if (target > timestampsS[last]! + slack) shortClip = true;
    frameIndices.push(index);
  }
  return { frameIndices, shortClip };
}

/** Bilinear taps along one axis: for each output sample, two source indices and their weights. */
interface Taps {
  lower: Int32Array;
  upper: Int32Array;
  upperWeight: Float32Array;
}

/**
 * Maps `count` output samples evenly over [origin, origin + span) in continuous source coordinates
 * and clamps the taps to the source, which repeats the edge pixels outside the image.
 */
function axisTaps(origin: number, span: number, count: number, sourceSize: number): Taps {
  const taps: Taps = {
    lower: new Int32Array(count),
    upper: new Int32Array(count),
    upperWeight: new Float32Array(count),
  };
  for (let i = 0; i < count; i++) {
    // Sample at the output pixel centre; source pixel j has its centre at j + 0.5.
    const position = origin + ((i + 0.5) * span) / count - 0.5;
    const floor = Math.floor(position);
    taps.lower[i] = Math.min(sourceSize - 1, Math.max(0, floor));
    taps.upper[i] = Math.min(sourceSize - 1, Math.max(0, floor + 1));
    taps.upperWeight[i] = position - floor;
  }
  return taps;
}

/** Converts a frame to the channel count the pixel format needs. */
function toChannels(frame: Frame, channels: 1 | 3): Frame {
  if (frame.channels === channels) return frame;
  if (channels === 1) return toGray(frame);
  const rgb = new Uint8Array(frame.width * frame.height * 3);
  for (let i = 0; i < frame.data.length; i++) rgb.fill(frame.data[i]!, i * 3, i * 3 + 3);
  return { width: frame.width, height: frame.height, channels: 3, data: rgb };
}

/** Resamples one frame into `tensor` at `offset`, channels interleaved, normalised. */
function resampleFrame(
  frame: Frame,
  columns: Taps,
  rows: Taps,
  spec: ViewInputSpec,
  tensor: Float32Array,
  offset: number,
): void {
  const { subtract, divide } = spec.normalisation;
  const channels = frame.channels;
  const stride = frame.width * channels;
  let out = offset;
  for (let v = 0; v < spec.height; v++) {
    const top = rows.lower[v]! * stride;
    const bottom = rows.upper[v]! * stride;
    const wy = rows.upperWeight[v]!;
    for (let u = 0; u < spec.width; u++) {
      const left = columns.lower[u]! * channels;
      const right = columns.upper[u]! * channels;
      const wx = columns.upperWeight[u]!;
      for (let c = 0; c < channels; c++) {
        const upperRow = frame.data[top + left + c]! * (1 - wx) + frame.data[top + right + c]! * wx;
        const lowerRow =
          frame.data[bottom + left + c]! * (1 - wx) + frame.data[bottom + right + c]! * wx;
        tensor[out++] = (upperRow * (1 - wy) + lowerRow * wy - subtract) / divide;
      }
    }
  }
}

/**
 * Builds a view-model input from a decoded clip: picks `spec.frames` frames at `spec.rateHz`
 * from the first frame on, crops a square of side `sidePx` around `centre` (continuous pixel
 * coordinates: pixel (i, j) covers [i, i + 1) × [j, j + 1)), resizes it bilinearly to
 * spec.width × spec.height and normalises it. Parts of the crop outside the frame repeat the
 * edge pixels, because zero padding would look like dark lumen to the model. Grey frames are
 * replicated for rgb24 and RGB frames converted with BT.601 luma for gray8.
 */
export function cropAndResample(
  frames: readonly Frame[],
  timestampsS: readonly number[],
  centre: Point,
  sidePx: number,
  spec: ViewInputSpec,
): CropResult {
  checkInputs(frames, timestampsS, centre, sidePx);
  const { frameIndices, shortClip } = selectFrames(timestampsS, spec.frames, spec.rateHz);
  const source = frames[0]!;
  const columns = axisTaps(centre.x - sidePx / 2, sidePx, spec.width, source.width);
  const rows = axisTaps(centre.y - sidePx / 2, sidePx, spec.height, source.height);
  const channels = spec.pixelFormat === 'rgb24' ? 3 : 1;
  const frameSize = spec.width * spec.height * channels;
  const tensor = new Float32Array(spec.frames * frameSize);
  frameIndices.forEach((index, k) => {
    const frame = toChannels(frames[index]!, channels);
    resampleFrame(frame, columns, rows, spec, tensor, k * frameSize);
  });
  return { tensor, shortClip, frameIndices };
}
