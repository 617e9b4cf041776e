import type { Point, Rect, ViewName } from '../core/image.ts';
import type { Notice } from '../core/notice.ts';

export type Sex = 'female' | 'male';

/** Patient covariates entered at the cart. Height in cm, weight in kg, age in years. */
export interface Covariates {
  heightCm: number;
  weightKg: number;
  sex: Sex;
  ageYears?: number;
}

/** Whether the patient meets the inclusion criteria of the population the model was trained on. */
export interface PopulationFlag {
  /** False when a criterion failed or could not be confirmed because a value was not entered. */
  inPopulation: boolean;
  /** One notice per failed or unconfirmed criterion, empty when `inPopulation` is true. */
  reasons: Notice[];
}

/** Summary statistics of one measured quantity over the clip. */
export interface SeriesSummary {
  mean: number;
  min: number;
  max: number;
}

/** Lumen measurements and classic indices of one view, in physical units. */
export interface ViewMeasurements {
  /** Lumen cross-section area, mm². */
  areaMm2: SeriesSummary;
  /** Anteroposterior (vertical in the image) lumen diameter, mm. */
  apDiameterMm: SeriesSummary;
  /** Lateral (horizontal in the image) lumen diameter, mm. */
  lateralDiameterMm: SeriesSummary;
  /** (Dmax − Dmin) / Dmax of the AP diameter, veins only; dimensionless 0–1. */
  collapsibilityIndex?: number;
  /** (Amax − Amin) / Amean of the lumen area, artery only; dimensionless. */
  pulsatilityIndex?: number;
  /** Heart rate from the lumen pulsation, artery only, beats per minute. */
  heartRateBpm?: number;
  /** Fraction of frames in which the lumen was found, 0–1. */
  trackedFraction: number;
}

/** Everything measured and inferred for one view of a scan. */
export interface ViewResult {
  view: ViewName;
  source: string;
  /** Ultrasound image area inside the source frame, in source pixels. */
  imageArea: Rect;
  /** Seed the lumen was tracked from, in source pixels; `seeded` is false when found automatically. */
  seed: Point;
  seeded: boolean;
  frameCount: number;
  fps: number;
  durationS: number;
  /** Millimetres per source pixel used for the physical units. */
  mmPerPixel: number;
  measurements: ViewMeasurements;
  /** Per-frame lumen area series, mm², for the training record. */
  areaSeriesMm2: number[];
  /** Output of the view's ONNX model. */
  features: number[];
}

export interface Estimate {
  /** Estimated total blood volume, mL. */
  bvMl: number;
  /** Same, per kg body weight, mL/kg. */
  bvMlPerKg: number;
  /** 95 % interval, mL. */
  lowerMl: number;
  upperMl: number;
  /** Nadler's formula for the same patient, mL. */
  nadlerMl: number;
  modelName: string;
  modelVersion: string;
  intendedUse: string;
  notice: string;
  /**
   * Translations of `notice` by BCP 47 tag, from the manifest of the bundle that made the
   * estimate. The page shows an old case's notice in its language after a bundle update. Absent
   * when the bundle has none and in estimates stored before translations were kept.
   */
  noticeTranslations?: Record<string, string>;
  /** Execution provider the models ran on, e.g. "cpu". */
  executionProvider: string;
  /** The patient's study-population check at scan time. */
  population: PopulationFlag;
  /**
   * Largest |standardised view feature| before the fusion model clipped it, when the model
   * reports it. Not stored in the database; the population reason carries it rounded.
   */
  maxAbsZ?: number;
}

/** A finished scan: what `saveScan` stores in one transaction and the outbox carries. */
export interface ScanRecord {
  /** Pseudonymous case id (never a name or MRN). */
  caseId: string;
  /** Stable id of the estimate event, a UUID. */
  estimateId: string;
  createdAt: string;
  covariates: Covariates;
  /** Preoperative hemoglobin, g/dL, when entered. Only the population check reads it. */
  hbPreopGdl?: number;
  views: ViewResult[];
  estimate: Estimate;
}
