import { BvEdgeError } from '../core/errors.ts';
import { parseDecimal } from '../core/numbers.ts';
import type { Covariates, Sex } from '../scan/types.ts';

/**
 * Accepted input ranges. They reject typing slips (height in metres, weight in grams), not
 * patients: values outside the study's inclusion criteria are accepted and flagged elsewhere.
 */
export const COVARIATE_LIMITS = {
  heightCm: { min: 100, max: 250, unit: 'cm' },
  weightKg: { min: 25, max: 300, unit: 'kg' },
  ageYears: { min: 0, max: 120, unit: 'years' },
} as const;

export interface RawCovariates {
  heightCm?: string | number;
  weightKg?: string | number;
  sex?: string;
  ageYears?: string | number;
}

/** Validates covariates, collecting every problem into one error that names each value. */
export function parseCovariates(raw: RawCovariates): Covariates {
  const problems: string[] = [];
  const heightCm = parseBounded('height', raw.heightCm, COVARIATE_LIMITS.heightCm, problems);
  const weightKg = parseBounded('weight', raw.weightKg, COVARIATE_LIMITS.weightKg, problems);
  const ageYears =
    raw.ageYears === undefined
      ? undefined
      : parseBounded('age', raw.ageYears, COVARIATE_LIMITS.ageYears, problems);
  const sex = parseSex(raw.sex, problems);
  if (problems.length > 0 || heightCm === undefined || weightKg === undefined || !sex) {
    throw new BvEdgeError('invalid_covariates', problems.join(' '), { value: raw });
  }
  return ageYears === undefined
    ? { heightCm, weightKg, sex }
    : { heightCm, weightKg, sex, ageYears };
}

function parseBounded(
  name: string,
  value: string | number | undefined,
  limits: { min: number; max: number; unit: string },
  problems: string[],
): number | undefined {
  if (value === undefined || value === '') {
    problems.push(`Missing ${name}: give it in ${limits.unit}.`);
    return undefined;
  }
  const number = typeof value === 'number' ? value : parseDecimal(value);
  if (!Number.isFinite(number)) {
    problems.push(`Invalid ${name} "${value}": expected a number in ${limits.unit}.`);
    return undefined;
  }
  if (number < limits.min || number > limits.max) {
    problems.push(
      `Invalid ${name} ${number} ${limits.unit}: expected ${limits.min}–${limits.max} ${limits.unit}.`,
    );
    return undefined;
  }
  return number;
}

function parseSex(value: string | undefined, problems: string[]): Sex | undefined {
  if (value === 'female' || value === 'male') return value;
  problems.push(
    value === undefined
      ? 'Missing sex: give female or male.'
      : `Invalid sex "${value}": expected female or male.`,
  );
  return undefined;
}
