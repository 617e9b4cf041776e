import { BvEdgeError } from '../core/errors.ts';
import type { Covariates } from '../scan/types.ts';
import { computeBmi } from './population.ts';

/** Blood volume per kg body weight commonly assumed for adults, mL/kg. */
export const DEFAULT_BLOOD_VOLUME_ML_PER_KG = 70;

/**
 * Accepted mL/kg factors. They reject typing slips such as L/kg or a percentage, and cover the
 * usual adult (65–75 mL/kg) and neonatal (up to about 90 mL/kg) figures with a margin.
 */
export const ML_PER_KG_LIMITS = { min: 30, max: 120 } as const;

/**
 * Estimates blood volume as weight times a fixed factor, in mL. The default 70 mL/kg
 * overestimates blood volume in obese patients, because fat carries less blood per kg than lean
 * tissue, and `lemmensBloodVolumeMl` corrects for that.
 */
export function weightBasedBloodVolumeMl(
  weightKg: number,
  mlPerKg: number = DEFAULT_BLOOD_VOLUME_ML_PER_KG,
): number {
  assertPositiveWeight(weightKg);
  if (
    !Number.isFinite(mlPerKg) ||
    mlPerKg < ML_PER_KG_LIMITS.min ||
    mlPerKg > ML_PER_KG_LIMITS.max
  ) {
    throw new BvEdgeError(
      'blood_volume_factor_invalid',
      `Invalid mlPerKg ${mlPerKg} mL/kg: expected ${ML_PER_KG_LIMITS.min}–${ML_PER_KG_LIMITS.max} mL/kg.`,
      { value: mlPerKg },
    );
  }
  return weightKg * mlPerKg;
}

/**
 * Returns Lemmens' indexed blood volume in mL/kg, 70 / √(BMI / 22). Source: Lemmens HJ,
 * Bernstein DP, Brodsky JB. Estimating blood volume in obese and morbidly obese patients. Obes
 * Surg 2006;16:773–776. At BMI 22 it equals 70 mL/kg.
 */
export function lemmensMlPerKg(bmiKgM2: number): number {
  return 70 / Math.sqrt(bmiKgM2 / 22);
}

/**
 * Estimates blood volume by Lemmens' obesity-adjusted formula, in mL: weight times
 * 70 / √(BMI / 22) mL/kg. NOTE: the formula was proposed for obese patients. Below BMI 22 it
 * gives more than 70 mL/kg, which is an extrapolation.
 */
export function lemmensBloodVolumeMl(
  covariates: Pick<Covariates, 'heightCm' | 'weightKg'>,
): number {
  const bmi = computeBmi(covariates.heightCm, covariates.weightKg);
  return covariates.weightKg * lemmensMlPerKg(bmi);
}

function assertPositiveWeight(weightKg: number): void {
  if (!Number.isFinite(weightKg) || weightKg <= 0) {
    throw new BvEdgeError(
      'covariate_invalid',
      `Invalid weight ${weightKg} kg: expected a positive number of kg.`,
      { value: weightKg },
    );
  }
}
