import { BvEdgeError } from '../core/errors.ts';
import type { GrayFrame, Point } from '../core/image.ts';

/** Throws a BvEdgeError unless `frame` is a one-channel frame whose data matches its size. */
export function checkGrayFrame(frame: GrayFrame): void {
  const { width, height, channels, data } = frame;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new BvEdgeError(
      'invalid_frame',
      `Frame size ${width}x${height} is invalid; width and height must be positive integers.`,
      { value: { width, height } },
    );
  }
  if (channels !== 1 || data.length !== width * height) {
    throw new BvEdgeError(
      'invalid_frame',
      `Frame of ${width}x${height} with ${channels} channel(s) has ${data.length} bytes; ` +
        `expected a grey frame of ${width * height} bytes. Convert it with toGray first.`,
      { value: { width, height, channels, bytes: data.length } },
    );
  }
}

/** Throws a BvEdgeError unless `seed` is a finite point inside the frame. */
export function checkSeed(frame: GrayFrame, seed: Point): void {
  const x = Math.round(seed.x);
  const y = Math.round(seed.y);
  const inside = x >= 0 && y >= 0 && x < frame.width && y < frame.height;
  if (!Number.isFinite(seed.x) || !Number.isFinite(seed.y) || !inside) {
    throw new BvEdgeError(
      'seed_outside_frame',
      `Seed (${seed.x}, ${seed.y}) is outside the ${frame.width}x${frame.height} frame; ` +
        `pass a seed with 0 <= x < ${frame.width} and 0 <= y < ${frame.height}.`,
      { value: seed },
    );
  }
}
