import type { Point } from '../core/image.ts';
import type { Raster } from './raster.ts';

/**
 * Grey-level profiles along rays cast from a centre point, 1 px apart. A sample outside the
 * raster is +Infinity, so a ray always ends at the window border.
 */
export interface RayProfiles {
  centre: Point;
  rayCount: number;
  /** Samples per ray; sample i lies i px from the centre. */
  length: number;
  /** `rayCount` × `length` values, ray by ray; ray k points at angle 2πk / rayCount. */
  values: Float32Array;
}

/** Samples the smoothed window along `rayCount` rays of `length` px from `centre` (frame px). */
export function sampleRays(
  smoothed: Raster<Float32Array>,
  centre: Point,
  rayCount: number,
  length: number,
): RayProfiles {
  const values = new Float32Array(rayCount * length);
  for (let ray = 0; ray < rayCount; ray++) {
    const angle = (2 * Math.PI * ray) / rayCount;
    const dx = Math.cos(angle);
    const dy = Math.sin(angle);
    for (let i = 0; i < length; i++) {
      const x = centre.x - smoothed.x0 + i * dx;
      const y = centre.y - smoothed.y0 + i * dy;
      values[ray * length + i] = bilinear(smoothed, x, y);
    }
  }
  return { centre, rayCount, length, values };
}

function bilinear(raster: Raster<Float32Array>, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  if (x0 < 0 || y0 < 0 || x0 >= raster.width - 1 || y0 >= raster.height - 1) return Infinity;
  const fx = x - x0;
  const fy = y - y0;
  const row = y0 * raster.width + x0;
  const top = raster.data[row]! * (1 - fx) + raster.data[row + 1]! * fx;
  const bottom =
    raster.data[row + raster.width]! * (1 - fx) + raster.data[row + raster.width + 1]! * fx;
  return top * (1 - fy) + bottom * fy;
}

/** Returns the area centroid of the star-shaped polygon with the given radii around `centre`. */
export function polygonCentroid(centre: Point, radii: Float32Array): Point {
  const count = radii.length;
  let area = 0;
  let sumX = 0;
  let sumY = 0;
  for (let ray = 0; ray < count; ray++) {
    const a = polar(centre, radii[ray]!, ray, count);
    const b = polar(centre, radii[(ray + 1) % count]!, ray + 1, count);
    const cross = a.x * b.y - b.x * a.y;
    area += cross;
    sumX += (a.x + b.x) * cross;
    sumY += (a.y + b.y) * cross;
  }
  if (Math.abs(area) < 1e-9) return { ...centre };
  return { x: sumX / (3 * area), y: sumY / (3 * area) };
}

function polar(centre: Point, radius: number, ray: number, count: number): Point {
  const angle = (2 * Math.PI * ray) / count;
  return { x: centre.x + radius * Math.cos(angle), y: centre.y + radius * Math.sin(angle) };
}

/**
 * Sets to 1 every pixel of `box` (placed in frame coordinates) whose centre lies inside the
 * star-shaped contour grown by `marginPx`, and the rest to 0. Radii between rays are interpolated
 * linearly in angle.
 */
export function rasterizeStar(
  centre: Point,
  radii: Float32Array,
  box: Raster<Uint8Array>,
  marginPx: number,
): void {
  const count = radii.length;
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const dx = box.x0 + x - centre.x;
      const dy = box.y0 + y - centre.y;
      const position = ((Math.atan2(dy, dx) / (2 * Math.PI)) * count + count) % count;
      const ray = Math.floor(position);
      const f = position - ray;
      const radius = radii[ray]! * (1 - f) + radii[(ray + 1) % count]! * f;
      const reach = radius + marginPx;
      const inside = dx * dx + dy * dy <= reach * reach;
      box.data[y * box.width + x] = inside ? 1 : 0;
    }
  }
}
