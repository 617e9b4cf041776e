/**
 * Binary morphology on 0/1 masks of `width` × `height` pixels, row-major. Distances come from a
 * 5-7-11 chamfer transform, which is within 2 % of the Euclidean distance beyond 10 px (measured
 * from a single point on a 301 × 301 grid), so dilation and erosion use near-circular discs.
 */

const CHAMFER_UNIT = 5;
const INFINITE = 0x3fffffff;

/**
 * Returns, per pixel, the chamfer distance in pixels to the nearest pixel whose mask value equals
 * `target`; such pixels get 0. Pixels outside the raster never count as targets. Without any target
 * pixel, every distance is about 2^30 / 5.
 */
export function distanceTransform(
  mask: Uint8Array,
  width: number,
  height: number,
  target: 0 | 1,
): Float32Array {
  // A 2-pixel frame of non-targets lets the passes read every neighbour without bounds checks.
  const stride = width + 4;
  const cost = new Int32Array(stride * (height + 4)).fill(INFINITE);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x] === target) cost[(y + 2) * stride + x + 2] = 0;
    }
  }
  forwardPass(cost, width, height, stride);
  backwardPass(cost, width, height, stride);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      out[y * width + x] = cost[(y + 2) * stride + x + 2]! / CHAMFER_UNIT;
  }
  return out;
}

function forwardPass(cost: Int32Array, width: number, height: number, stride: number): void {
  const up = stride;
  const up2 = 2 * stride;
  for (let y = 2; y < height + 2; y++) {
    for (let i = y * stride + 2, end = i + width; i < end; i++) {
      if (cost[i] === 0) continue;
      cost[i] = min5(
        min5(
          cost[i]!,
          cost[i - 1]! + 5,
          cost[i - up]! + 5,
          cost[i - up - 1]! + 7,
          cost[i - up + 1]! + 7,
        ),
        cost[i - up - 2]! + 11,
        cost[i - up + 2]! + 11,
        cost[i - up2 - 1]! + 11,
        cost[i - up2 + 1]! + 11,
      );
    }
  }
}

function backwardPass(cost: Int32Array, width: number, height: number, stride: number): void {
  const down = stride;
  const down2 = 2 * stride;
  for (let y = height + 1; y >= 2; y--) {
    for (let i = y * stride + width + 1, end = y * stride + 2; i >= end; i--) {
      if (cost[i] === 0) continue;
      cost[i] = min5(
        min5(
          cost[i]!,
          cost[i + 1]! + 5,
          cost[i + down]! + 5,
          cost[i + down + 1]! + 7,
          cost[i + down - 1]! + 7,
        ),
        cost[i + down + 2]! + 11,
        cost[i + down - 2]! + 11,
        cost[i + down2 + 1]! + 11,
        cost[i + down2 - 1]! + 11,
      );
    }
  }
}

function min5(a: number, b: number, c: number, d: number, e: number): number {
  const ab = a < b ? a : b;
  const cd = c < d ? c : d;
  const abcd = ab < cd ? ab : cd;
  return abcd < e ? abcd : e;
}

/** Dilates by a disc of radius `radiusPx`. */
export function dilate(
  mask: Uint8Array,
  width: number,
  height: number,
  radiusPx: number,
): Uint8Array {
  const distance = distanceTransform(mask, width, height, 1);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = distance[i]! <= radiusPx ? 1 : 0;
  return out;
}

/**
 * Erodes by a disc of radius `radiusPx`. Pixels outside the raster do not erode, so callers leave
 * a background margin around the mask.
 */
export function erode(
  mask: Uint8Array,
  width: number,
  height: number,
  radiusPx: number,
): Uint8Array {
  const distance = distanceTransform(mask, width, height, 0);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = distance[i]! > radiusPx ? 1 : 0;
  return out;
}

/**
 * Sets to 1 every background pixel that cannot reach the raster border through background
 * (4-connected), in place.
 */
export function fillHoles(mask: Uint8Array, width: number, height: number): void {
  const border: number[] = [];
  for (let x = 0; x < width; x++) border.push(x, (height - 1) * width + x);
  for (let y = 0; y < height; y++) border.push(y * width, y * width + width - 1);
  const outside = new Uint8Array(mask.length);
  floodFill(mask, width, height, border, 0, outside);
  for (let i = 0; i < mask.length; i++) if (outside[i] === 0) mask[i] = 1;
}

/** Returns the 4-connected component of pixels equal to 1 that contains `index`. */
export function componentAt(
  mask: Uint8Array,
  width: number,
  height: number,
  index: number,
): Uint8Array {
  const component = new Uint8Array(mask.length);
  floodFill(mask, width, height, [index], 1, component);
  return component;
}

/**
 * Marks in `visited` (set to 1) every pixel 4-connected to `seeds` through pixels whose mask value
 * equals `value`, skipping seeds of another value or already visited. Returns the count marked.
 */
export function floodFill(
  mask: Uint8Array,
  width: number,
  height: number,
  seeds: readonly number[],
  value: 0 | 1,
  visited: Uint8Array,
): number {
  const queue = new Int32Array(mask.length);
  let tail = 0;
  for (const seed of seeds) {
    if (mask[seed] !== value || visited[seed] === 1) continue;
    visited[seed] = 1;
    queue[tail++] = seed;
  }
  const enqueue = (next: number): void => {
    if (mask[next] !== value || visited[next] === 1) return;
    visited[next] = 1;
    queue[tail++] = next;
  };
  for (let head = 0; head < tail; head++) {
    const index = queue[head]!;
    const x = index % width;
    if (x > 0) enqueue(index - 1);
    if (x < width - 1) enqueue(index + 1);
    if (index >= width) enqueue(index - width);
    if (index < (height - 1) * width) enqueue(index + width);
  }
  return tail;
}
