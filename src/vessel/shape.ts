import type { Raster } from './raster.ts';
import type { LumenShape } from './types.ts';

/**
 * Measures area, centroid, bounding box and diameters of the ones in `region`, in frame pixels.
 * The region must contain at least one pixel.
 */
export function measureShape(region: Raster<Uint8Array>): LumenShape {
  const { data, width, height } = region;
  let area = 0;
  let sumX = 0;
  let sumY = 0;
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] !== 1) continue;
      area++;
      sumX += x;
      sumY += y;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }

  const cx = sumX / area;
  const cy = sumY / area;
  const boxWidth = maxX - minX + 1;
  const boxHeight = maxY - minY + 1;

  return {
    found: true,
    areaPx: area,
    centroid: { x: cx + region.x0, y: cy + region.y0 },
    bbox: { x: minX + region.x0, y: minY + region.y0, width: boxWidth, height: boxHeight },
    apDiameterPx: extentThrough(region, Math.round(cx), width, height) || boxHeight,
    lateralDiameterPx: extentThrough(region, Math.round(cy) * width, 1, width) || boxWidth,
  };
}

/**
 * Returns the distance from the first to the last one along a line of `length` pixels that starts
 * at `start` and steps by `stride`, counting both ends; 0 when the line has none.
 */
function extentThrough(
  region: Raster<Uint8Array>,
  start: number,
  stride: number,
  length: number,
): number {
  let low = -1;
  let high = -1;
  for (let i = 0; i < length; i++) {
    if (region.data[start + i * stride] !== 1) continue;
    if (low < 0) low = i;
    high = i;
  }
  return low < 0 ? 0 : high - low + 1;
}
