import type { ViewName } from '../../src/core/image.ts';
import type { ViewResult } from '../../src/scan/types.ts';

/**
 * Builds a measured view of a 3 s, 30 frames/s recording of a 640×480 frame, with IVC-sized
 * lumen measurements. `overrides` replaces whole fields, e.g. the source or the features.
 */
export function measuredView(view: ViewName, overrides: Partial<ViewResult> = {}): ViewResult {
  return {
    view,
    source: `${view}.mp4`,
    imageArea: { x: 0, y: 0, width: 640, height: 480 },
    seed: { x: 320, y: 240 },
    seeded: true,
    frameCount: 90,
    fps: 30,
    durationS: 3,
    mmPerPixel: 0.1,
    measurements: {
      areaMm2: { mean: 210.5, min: 150.2, max: 260.9 },
      apDiameterMm: { mean: 16.2, min: 12.1, max: 19.8 },
      lateralDiameterMm: { mean: 18, min: 17.1, max: 18.9 },
      collapsibilityIndex: 0.389,
      trackedFraction: 0.95,
    },
    areaSeriesMm2: [210.1, 209.4],
    features: [0.25, -1.5],
    ...overrides,
  };
}
