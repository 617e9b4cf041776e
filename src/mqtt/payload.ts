import { OUT_OF_POPULATION_FLAG } from '../clinical/population.ts';
import type { PopulationFlag, ScanRecord, SeriesSummary, ViewResult } from '../scan/types.ts';
import type { ViewName } from '../core/image.ts';

// Units are UCUM case-sensitive codes: "mL", "mL/kg", "mm", "mm2", "s", "/min", and "1" for
// dimensionless ratios. JSON has no NaN or Infinity, so such values are sent as null.

export const ESTIMATE_SCHEMA = 'bv-edge/estimate';
export const ESTIMATE_SCHEMA_VERSION = 1;

export interface Quantity {
  value: number | null;
  unit: string;
}

/** Mean, minimum and maximum of a quantity over the clip. */
export interface SeriesQuantity {
  mean: number | null;
  min: number | null;
  max: number | null;
  unit: string;
}

export interface ViewSummary {
  view: ViewName;
  frameCount: number;
  duration: Quantity;
  trackedFraction: Quantity;
  lumenArea: SeriesQuantity;
  apDiameter: SeriesQuantity;
  lateralDiameter: SeriesQuantity;
  /** Veins only. */
  collapsibilityIndex?: Quantity;
  /** Artery only. */
  pulsatilityIndex?: Quantity;
  /** Artery only. */
  heartRate?: Quantity;
}

/**
 * The estimate event sent to the central server. It names the patient only by the pseudonymous
 * case id; covariates and clip file names stay on the cart.
 */
export interface EstimateMessage {
  schema: typeof ESTIMATE_SCHEMA;
  schemaVersion: typeof ESTIMATE_SCHEMA_VERSION;
  /** Stable across re-sends, so the server can drop duplicates of at-least-once delivery. */
  estimateId: string;
  revision: number;
  caseId: string;
  createdAt: string;
  model: { name: string; version: string; intendedUse: string; notice: string };
  executionProvider: string;
  bloodVolume: Quantity & {
    interval: { level: number; lower: number | null; upper: number | null };
  };
  bloodVolumePerKg: Quantity;
  nadlerBloodVolume: Quantity;
  population: PopulationSummary;
  views: ViewSummary[];
}

/** The study-population check that travels with every estimate and training record. */
export interface PopulationSummary {
  inPopulation: boolean;
  /** OUT_OF_POPULATION_FLAG when `inPopulation` is false, otherwise null. */
  flag: string | null;
  /** One English sentence per failed or unconfirmed criterion (the notices' `text`). */
  reasons: string[];
}

/**
 * Builds the estimates-topic payload of a scan. Fields are copied one by one, so properties a
 * caller adds to the record at run time (a name, an MRN) are never forwarded.
 */
export function estimateMessage(record: ScanRecord): EstimateMessage {
  const { estimate } = record;
  return {
    schema: ESTIMATE_SCHEMA,
    schemaVersion: ESTIMATE_SCHEMA_VERSION,
    estimateId: record.estimateId,
    revision: 1,
    caseId: record.caseId,
    createdAt: record.createdAt,
    model: {
      name: estimate.modelName,
      version: estimate.modelVersion,
      intendedUse: estimate.intendedUse,
      notice: estimate.notice,
    },
    executionProvider: estimate.executionProvider,
    bloodVolume: {
      value: finiteOrNull(estimate.bvMl),
      unit: 'mL',
      interval: {
        level: 0.95,
        lower: finiteOrNull(estimate.lowerMl),
        upper: finiteOrNull(estimate.upperMl),
      },
    },
    bloodVolumePerKg: quantity(estimate.bvMlPerKg, 'mL/kg'),
    nadlerBloodVolume: quantity(estimate.nadlerMl, 'mL'),
    population: populationSummary(estimate.population),
    views: record.views.map(viewSummary),
  };
}

/** Copies the population flag field by field and adds the flag text shown to users. */
export function populationSummary(population: PopulationFlag): PopulationSummary {
  return {
    inPopulation: population.inPopulation,
    flag: population.inPopulation ? null : OUT_OF_POPULATION_FLAG,
    reasons: population.reasons.map((reason) => reason.text),
  };
}

export function viewSummary(view: ViewResult): ViewSummary {
  const m = view.measurements;
  const summary: ViewSummary = {
    view: view.view,
    frameCount: view.frameCount,
    duration: quantity(view.durationS, 's'),
    trackedFraction: quantity(m.trackedFraction, '1'),
    lumenArea: seriesQuantity(m.areaMm2, 'mm2'),
    apDiameter: seriesQuantity(m.apDiameterMm, 'mm'),
    lateralDiameter: seriesQuantity(m.lateralDiameterMm, 'mm'),
  };
  if (m.collapsibilityIndex !== undefined) {
    summary.collapsibilityIndex = quantity(m.collapsibilityIndex, '1');
  }
  if (m.pulsatilityIndex !== undefined) {
    summary.pulsatilityIndex = quantity(m.pulsatilityIndex, '1');
  }
  if (m.heartRateBpm !== undefined) summary.heartRate = quantity(m.heartRateBpm, '/min');
  return summary;
}

export function quantity(value: number, unit: string): Quantity {
  return { value: finiteOrNull(value), unit };
}

function seriesQuantity(series: SeriesSummary, unit: string): SeriesQuantity {
  return {
    mean: finiteOrNull(series.mean),
    min: finiteOrNull(series.min),
    max: finiteOrNull(series.max),
    unit,
  };
}

export function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
