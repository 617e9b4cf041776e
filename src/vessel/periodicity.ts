/** Heart rates searched, beats per minute. */
export const MIN_HEART_RATE_BPM = 40;
export const MAX_HEART_RATE_BPM = 180;

/** An autocorrelation peak must reach this correlation to count as a clear beat. */
const MIN_PEAK_CORRELATION = 0.3;
/** The shortest lag whose peak is this close to the highest is taken, so a harmonic cannot win. */
const PEAK_TOLERANCE = 0.85;
/** The detrending moving average spans this long, s: longer than one beat at 40 bpm. */
const DETREND_WINDOW_S = 2;

/**
 * Estimates the heart rate from a pulsating series (lumen area per frame) sampled at
 * `timestampsS`, in beats per minute. The series is resampled to a uniform step (the median frame
 * interval), detrended by subtracting a 2 s centred moving average, and autocorrelated. The
 * period is the lag of the clearest autocorrelation peak between 60/180 and 60/40 s, limited to
 * half the clip so that at least two beats are compared. Returns undefined when the clip is too
 * short for that range or no peak reaches a correlation of 0.3.
 */
export function estimateHeartRateBpm(
  values: readonly number[],
  timestampsS: readonly number[],
): number | undefined {
  const uniform = resampleUniform(values, timestampsS);
  if (!uniform) return undefined;
  const { samples, stepS } = uniform;
  const minLag = Math.ceil(60 / MAX_HEART_RATE_BPM / stepS);
  const maxLag = Math.min(
    Math.floor(60 / MIN_HEART_RATE_BPM / stepS),
    Math.floor(samples.length / 2),
  );
  // A peak needs a neighbour on each side, so the range must span at least three lags.
  if (maxLag - minLag < 2 || minLag < 1) return undefined;
  const detrended = subtractMovingAverage(samples, Math.round(DETREND_WINDOW_S / stepS));
  const correlations = new Float64Array(maxLag + 2);
  for (let lag = minLag - 1; lag <= maxLag + 1; lag++) {
    correlations[lag] = lagCorrelation(detrended, lag);
  }
  const peakLag = choosePeak(correlations, minLag, maxLag);
  if (peakLag === undefined) return undefined;
  return 60 / (refinePeak(correlations, peakLag) * stepS);
}

interface UniformSeries {
  samples: Float64Array;
  stepS: number;
}

/** Linearly interpolates the series onto a grid spaced by the median frame interval. */
function resampleUniform(
  values: readonly number[],
  timestampsS: readonly number[],
): UniformSeries | undefined {
  if (values.length < 4 || values.length !== timestampsS.length) return undefined;
  const intervals: number[] = [];
  for (let i = 1; i < timestampsS.length; i++)
    intervals.push(timestampsS[i]! - timestampsS[i - 1]!);
  intervals.sort((a, b) => a - b);
  const stepS = intervals[Math.floor(intervals.length / 2)]!;
  const first = timestampsS[0]!;
  const durationS = timestampsS[timestampsS.length - 1]! - first;
  if (!(stepS > 0) || !(durationS > 0)) return undefined;
  const count = Math.floor(durationS / stepS) + 1;
  const samples = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < count; i++) {
    const t = first + i * stepS;
    while (j < timestampsS.length - 2 && timestampsS[j + 1]! < t) j++;
    const t0 = timestampsS[j]!;
    const t1 = timestampsS[j + 1]!;
    const f = t1 > t0 ? Math.min(1, Math.max(0, (t - t0) / (t1 - t0))) : 0;
    samples[i] = values[j]! * (1 - f) + values[j + 1]! * f;
  }
  return { samples, stepS };
}

function subtractMovingAverage(samples: Float64Array, window: number): Float64Array {
  const half = Math.max(1, Math.floor(window / 2));
  const out = new Float64Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const from = Math.max(0, i - half);
    const to = Math.min(samples.length - 1, i + half);
    let sum = 0;
    for (let k = from; k <= to; k++) sum += samples[k]!;
    out[i] = samples[i]! - sum / (to - from + 1);
  }
  return out;
}

/** Pearson correlation of the series with itself shifted by `lag` samples. */
function lagCorrelation(series: Float64Array, lag: number): number {
  const n = series.length - lag;
  if (n < 2) return 0;
  let sumA = 0;
  let sumB = 0;
  for (let i = 0; i < n; i++) {
    sumA += series[i]!;
    sumB += series[i + lag]!;
  }
  const meanA = sumA / n;
  const meanB = sumB / n;
  let cross = 0;
  let varA = 0;
  let varB = 0;
  for (let i = 0; i < n; i++) {
    const a = series[i]! - meanA;
    const b = series[i + lag]! - meanB;
    cross += a * b;
    varA += a * a;
    varB += b * b;
  }
  return varA > 0 && varB > 0 ? cross / Math.sqrt(varA * varB) : 0;
}

function choosePeak(
  correlations: Float64Array,
  minLag: number,
  maxLag: number,
): number | undefined {
  const peaks: number[] = [];
  for (let lag = minLag; lag <= maxLag; lag++) {
    const value = correlations[lag]!;
    if (
      value >= MIN_PEAK_CORRELATION &&
      value > correlations[lag - 1]! &&
      value >= correlations[lag + 1]!
    ) {
      peaks.push(lag);
    }
  }
  if (peaks.length === 0) return undefined;
  const highest = Math.max(...peaks.map((lag) => correlations[lag]!));
  return peaks.find((lag) => correlations[lag]! >= PEAK_TOLERANCE * highest);
}

/** Refines the peak lag to a fraction of a sample with a parabola through it and its neighbours. */
function refinePeak(correlations: Float64Array, lag: number): number {
  const left = correlations[lag - 1]!;
  const centre = correlations[lag]!;
  const right = correlations[lag + 1]!;
  const curvature = left - 2 * centre + right;
  if (curvature >= 0) return lag;
  return lag + (0.5 * (left - right)) / curvature;
}
