import { BvEdgeError } from '../core/errors.ts';
import type { Notice } from '../core/notice.ts';
import { notice } from '../notices/index.ts';
import type { Covariates } from '../scan/types.ts';

/** Flag text shown when a patient is outside, or not confirmed inside, the study population. */
export const OUT_OF_POPULATION_FLAG = 'outside the population the model was trained on';

/**
 * Inclusion criteria of the study that trained the model. Every bound is inclusive. BMI and Hb
 * are compared after rounding to one decimal, the precision they are shown with, so that a
 * displayed "30.0 kg/m²" is never flagged as outside 18–30 kg/m².
 */
export const STUDY_POPULATION = {
  ageYears: { min: 18, max: 75 },
  bmiKgM2: { min: 18, max: 30 },
  hbBeforeGdl: { min: 10 },
} as const;

export interface PopulationInput {
  covariates: Covariates;
  /** Preoperative hemoglobin, g/dL. */
  hbBeforeGdl?: number;
}

export interface PopulationCheck {
  inPopulation: boolean;
  /** One notice per failed or unconfirmed criterion, naming the criterion and the value. */
  reasons: Notice[];
}

/** Computes body mass index, kg/m², from height in cm and weight in kg. */
export function computeBmi(heightCm: number, weightKg: number): number {
  if (!Number.isFinite(heightCm) || heightCm <= 0) {
    throw new BvEdgeError(
      'covariate_invalid',
      `Invalid height ${heightCm} cm: expected a positive number of cm.`,
      {
        value: heightCm,
      },
    );
  }
  if (!Number.isFinite(weightKg) || weightKg <= 0) {
    throw new BvEdgeError(
      'covariate_invalid',
      `Invalid weight ${weightKg} kg: expected a positive number of kg.`,
      {
        value: weightKg,
      },
    );
  }
  const heightM = heightCm / 100;
  return weightKg / (heightM * heightM);
}

/**
 * Checks the patient against the study's inclusion criteria. A missing or non-numeric age or Hb
 * counts as not in the population, with a reason that states it, because the model's validity is
 * claimed only for patients confirmed to meet every criterion. Throws `covariate_invalid` when
 * height or weight is not a positive number, because then BMI cannot be computed.
 */
export function checkPopulation(input: PopulationInput): PopulationCheck {
  const { covariates, hbBeforeGdl } = input;
  const reasons = [
    ageReason(covariates.ageYears),
    bmiReason(computeBmi(covariates.heightCm, covariates.weightKg)),
    hemoglobinReason(hbBeforeGdl),
  ].filter((reason): reason is Notice => reason !== undefined);
  return { inPopulation: reasons.length === 0, reasons };
}

function ageReason(ageYears: number | undefined): Notice | undefined {
  const { min, max } = STUDY_POPULATION.ageYears;
  if (ageYears === undefined) return notice('notice.population.ageMissing', { min, max });
  if (!Number.isFinite(ageYears)) {
    // NaN and ±Infinity travel as strings, because JSON would store them as null.
    return notice('notice.population.ageInvalid', { value: String(ageYears), min, max });
  }
  if (ageYears < min || ageYears > max) {
    return notice('notice.population.ageOutside', { value: ageYears, min, max });
  }
  return undefined;
}

function bmiReason(bmi: number): Notice | undefined {
  const { min, max } = STUDY_POPULATION.bmiKgM2;
  const rounded = roundToTenth(bmi);
  if (rounded < min || rounded > max) {
    return notice('notice.population.bmiOutside', { value: rounded, min, max });
  }
  return undefined;
}

function hemoglobinReason(hbBeforeGdl: number | undefined): Notice | undefined {
  const { min } = STUDY_POPULATION.hbBeforeGdl;
  if (hbBeforeGdl === undefined) return notice('notice.population.hbMissing', { min });
  if (!Number.isFinite(hbBeforeGdl)) {
    return notice('notice.population.hbInvalid', { value: String(hbBeforeGdl), min });
  }
  const rounded = roundToTenth(hbBeforeGdl);
  if (rounded < min) return notice('notice.population.hbBelow', { value: rounded, min });
  return undefined;
}

function roundToTenth(value: number): number {
  return Math.round(value * 10) / 10;
}
