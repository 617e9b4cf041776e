import { BvEdgeError } from '../core/errors.ts';
import type { Covariates } from '../scan/types.ts';

/**
 * Estimates normal total blood volume by Nadler's formula, in mL. The formula works in litres
 * with height in m and weight in kg:
 *   male   BV = 0.3669 · H³ + 0.03219 · W + 0.6041
 *   female BV = 0.3561 · H³ + 0.03308 · W + 0.1833
 * Source: Nadler SB, Hidalgo JH, Bloch T. Prediction of blood volume in normal human adults.
 * Surgery 1962;51:224–232. The coefficients match those quoted at
 * https://www.mdapp.co/blood-calculator-10/. The formula was derived from healthy adults, so it
 * gives the normal volume for the body size, not the patient's current volume.
 */
export function nadlerBloodVolumeMl(
  covariates: Pick<Covariates, 'heightCm' | 'weightKg' | 'sex'>,
): number {
  const { heightCm, weightKg, sex } = covariates;
  if (!Number.isFinite(heightCm) || heightCm <= 0) {
    throw new BvEdgeError(
      'covariate_invalid',
      `Invalid height ${heightCm} cm; expected a positive number.`,
      {
        value: heightCm,
      },
    );
  }
  if (!Number.isFinite(weightKg) || weightKg <= 0) {
    throw new BvEdgeError(
      'covariate_invalid',
      `Invalid weight ${weightKg} kg; expected a positive number.`,
      {
        value: weightKg,
      },
    );
  }
  if (sex !== 'male' && sex !== 'female') {
    throw new BvEdgeError(
      'covariate_invalid',
      `Invalid sex ${String(sex)}; expected male or female.`,
      {
        value: sex,
      },
    );
  }
  const heightM = heightCm / 100;
  const litres =
    sex === 'male'
      ? 0.3669 * heightM ** 3 + 0.03219 * weightKg + 0.6041
      : 0.3561 * heightM ** 3 + 0.03308 * weightKg + 0.1833;
  return litres * 1000;
}
