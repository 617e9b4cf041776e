export { findVesselSeed } from './find.ts';
export { computeMeasurements } from './indices.ts';
export { estimateHeartRateBpm } from './periodicity.ts';
export { segmentLumen } from './segment.ts';
export { trackLumen } from './track.ts';
export type {
  LumenFailure,
  LumenMask,
  LumenShape,
  LumenTrack,
  SegmentOptions,
  TrackedLumen,
  TrackOptions,
} from './types.ts';
