import { BvEdgeError } from '../core/errors.ts';
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
  /** One sentence per failed or unconfirmed criterion, naming the criterion and the value. */
  reasons: string[];
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
  ].filter((reason): reason is string => reason !== undefined);
  return { inPopulation: reasons.length === 0, reasons };
}

function ageReason(ageYears: number | undefined): string | undefined {
  const { min, max } = STUDY_POPULATION.ageYears;
  if (ageYears === undefined) return `age not entered; cannot confirm ${min}–${max} years`;
  if (!Number.isFinite(ageYears)) {
    return `age ${ageYears} is not a number; cannot confirm ${min}–${max} years`;
  }
  if (ageYears < min || ageYears > max)
    return `age ${ageYears} years is outside ${min}–${max} years`;
  return undefined;
}

function bmiReason(bmi: number): string | undefined {
  const { min, max } = STUDY_POPULATION.bmiKgM2;
  const rounded = roundToTenth(bmi);
  if (rounded < min || rounded > max) {
    return `BMI ${rounded.toFixed(1)} kg/m² is outside ${min}–${max} kg/m²`;
  }
  return undefined;
}

function hemoglobinReason(hbBeforeGdl: number | undefined): string | undefined {
  const { min } = STUDY_POPULATION.hbBeforeGdl;
  if (hbBeforeGdl === undefined) {
    return `preoperative Hb not entered; cannot confirm ≥ ${min} g/dL`;
  }
  if (!Number.isFinite(hbBeforeGdl)) {
    return `preoperative Hb ${hbBeforeGdl} is not a number; cannot confirm ≥ ${min} g/dL`;
  }
  const rounded = roundToTenth(hbBeforeGdl);
  if (rounded < min) return `preoperative Hb ${rounded.toFixed(1)} g/dL is below ${min} g/dL`;
  return undefined;
}

function roundToTenth(value: number): number {
  return Math.round(value * 10) / 10;
}
