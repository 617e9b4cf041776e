import { BvEdgeError } from '../core/errors.ts';
import type { ViewName } from '../core/image.ts';
import type { SeriesSummary, ViewMeasurements } from '../scan/types.ts';
import { estimateHeartRateBpm } from './periodicity.ts';
import type { LumenTrack, TrackedLumen } from './types.ts';

/**
 * Running-median window for the venous AP diameter series, frames. Respiratory collapse spans
 * seconds, so five frames remove one- or two-frame segmentation errors without flattening it.
 */
const VEIN_MEDIAN_WINDOW = 5;
/**
 * Running-median window for the arterial area series, frames. A beat may last only about eight
 * frames at 10 fps, so only single-frame errors are removed.
 */
const ARTERY_MEDIAN_WINDOW = 3;

const VEINS: ReadonlySet<ViewName> = new Set(['ijv', 'scv', 'ivc']);

/**
 * Converts a lumen track to physical measurements and the view's classic index.
 *
 * Area and diameters are summarised (mean, min, max) over the found frames, and collapsed frames
 * count with 0. For veins the collapsibility index is (APmax − APmin) / APmax of the AP diameter.
 * That is the IVC collapsibility index of point-of-care ultrasound (maximum usually at expiration,
 * minimum at inspiration), applied here to every vein. For the artery the pulsatility index is
 * (Amax − Amin) / Amean of the lumen area, the form of the Doppler pulsatility index applied to
 * area instead of velocity. The heart rate comes from the autocorrelation of the area series.
 * Extremes for both indices are taken after a running median (5 frames for veins, 3 for the
 * artery), so one bad frame cannot set them. Throws a BvEdgeError when the inputs disagree or no
 * frame has a lumen.
 *
 * NOTE: `areaSeriesMm2` has one entry per frame and is NaN where the lumen was lost, so a
 * consumer that cannot take NaN must drop or fill those frames.
 */
export function computeMeasurements(
  view: ViewName,
  track: LumenTrack,
  timestampsS: number[],
  mmPerPixel: number,
): { measurements: ViewMeasurements; areaSeriesMm2: number[] } {
  checkInputs(view, track, timestampsS, mmPerPixel);
  const found = track.perFrame.filter((lumen) => lumen.found);
  const areaMm2 = (lumen: TrackedLumen): number => lumen.areaPx * mmPerPixel * mmPerPixel;
  const areas = found.map(areaMm2);
  const apDiameters = found.map((lumen) => lumen.apDiameterPx * mmPerPixel);
  const measurements: ViewMeasurements = {
    areaMm2: summarize(areas),
    apDiameterMm: summarize(apDiameters),
    lateralDiameterMm: summarize(found.map((lumen) => lumen.lateralDiameterPx * mmPerPixel)),
    trackedFraction: track.trackedFraction,
  };
  if (VEINS.has(view)) {
    const index = collapsibilityIndex(apDiameters);
    if (index !== undefined) measurements.collapsibilityIndex = index;
  } else {
    const index = pulsatilityIndex(areas);
    if (index !== undefined) measurements.pulsatilityIndex = index;
    const foundTimes = track.perFrame.flatMap((lumen, i) => (lumen.found ? [timestampsS[i]!] : []));
    const heartRate = estimateHeartRateBpm(areas, foundTimes);
    if (heartRate !== undefined) measurements.heartRateBpm = heartRate;
  }
  const areaSeriesMm2 = track.perFrame.map((lumen) => (lumen.found ? areaMm2(lumen) : Number.NaN));
  return { measurements, areaSeriesMm2 };
}

function checkInputs(
  view: ViewName,
  track: LumenTrack,
  timestampsS: number[],
  mmPerPixel: number,
): void {
  if (!(Number.isFinite(mmPerPixel) && mmPerPixel > 0)) {
    throw new BvEdgeError(
      'invalid_pixel_spacing',
      `Pixel spacing ${mmPerPixel} mm/px is invalid; pass a positive number of millimetres ` +
        'per pixel.',
      { value: mmPerPixel },
    );
  }
  if (timestampsS.length !== track.perFrame.length) {
    throw new BvEdgeError(
      'timestamp_mismatch',
      `Got ${timestampsS.length} timestamps for a track of ${track.perFrame.length} frames; ` +
        'pass one timestamp per tracked frame.',
      { value: timestampsS.length },
    );
  }
  if (!track.perFrame.some((lumen) => lumen.found)) {
    throw new BvEdgeError(
      'vessel_lost',
      `The ${view} lumen was not found in any of the ${track.perFrame.length} frames; ` +
        'place the seed inside the vessel lumen.',
      { value: view },
    );
  }
}

function summarize(values: number[]): SeriesSummary {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    sum += value;
    min = Math.min(min, value);
    max = Math.max(max, value);
  }
  return { mean: sum / values.length, min, max };
}

/**
 * Returns (Dmax − Dmin) / Dmax of the running-median AP diameter, or undefined with fewer than
 * two frames or a diameter that never opens.
 */
function collapsibilityIndex(apDiameters: number[]): number | undefined {
  if (apDiameters.length < 2) return undefined;
  const smoothed = runningMedian(apDiameters, VEIN_MEDIAN_WINDOW);
  const max = Math.max(...smoothed);
  const min = Math.min(...smoothed);
  return max > 0 ? (max - min) / max : undefined;
}

/** Returns (Amax − Amin) / Amean of the running-median area, or undefined without two frames. */
function pulsatilityIndex(areas: number[]): number | undefined {
  if (areas.length < 2) return undefined;
  const smoothed = runningMedian(areas, ARTERY_MEDIAN_WINDOW);
  const mean = smoothed.reduce((sum, value) => sum + value, 0) / smoothed.length;
  if (!(mean > 0)) return undefined;
  return (Math.max(...smoothed) - Math.min(...smoothed)) / mean;
}

/** Centred running median; the window shrinks at the ends and is the whole series when longer. */
export function runningMedian(values: number[], window: number): number[] {
  const half = Math.floor(window / 2);
  return values.map((_, i) => {
    const from = Math.max(0, i - half);
    const to = Math.min(values.length, i + half + 1);
    const sorted = values.slice(from, to).sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  });
}
