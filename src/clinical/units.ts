import { BvEdgeError } from '../core/errors.ts';

/**
 * Units accepted at the cart. The canonical units, used everywhere inside bv-edge, are g/dL for
 * hemoglobin, cm for height and kg for weight. Unit strings are matched exactly, including case,
 * because 'g/dl' or 'mg/dL' more often mean a typing slip than an intended unit.
 */
export const HEMOGLOBIN_UNITS = ['g/dL', 'g/L', 'mmol/L'] as const;
export const HEIGHT_UNITS = ['cm', 'm'] as const;
export const WEIGHT_UNITS = ['kg', 'lb'] as const;

export type HemoglobinUnit = (typeof HEMOGLOBIN_UNITS)[number];
export type HeightUnit = (typeof HEIGHT_UNITS)[number];
export type WeightUnit = (typeof WEIGHT_UNITS)[number];

/**
 * mmol/L of hemoglobin per g/dL. The amount is counted per Hb monomer (one globin chain with its
 * haem), whose molar mass is 16 114.5 g/mol, a quarter of the tetramer's 64 458 g/mol. Both
 * values come from the ICSH reference method: Zwart A, van Assendelft OW, Bull BS, et al.
 * Recommendations for reference method for haemoglobinometry in human blood (ICSH standard
 * 1995). J Clin Pathol 1996;49:271–274. 10 g/L ÷ 16 114.5 g/mol = 0.62056 mmol/L, rounded here
 * to 0.6206.
 */
export const HEMOGLOBIN_MMOL_L_PER_G_DL = 0.6206;

/** Kilograms per avoirdupois pound, exact by the international yard and pound agreement of 1959. */
export const KG_PER_LB = 0.45359237;

/** Decimal places shown for each display unit, matching how each unit is usually reported. */
const HEMOGLOBIN_DECIMALS: Record<HemoglobinUnit, number> = { 'g/dL': 1, 'g/L': 0, 'mmol/L': 1 };
const HEIGHT_DECIMALS: Record<HeightUnit, number> = { cm: 0, m: 2 };
const WEIGHT_DECIMALS: Record<WeightUnit, number> = { kg: 1, lb: 0 };

/** Parses a hemoglobin unit string. Throws `unit_unknown`, naming the accepted units, for others. */
export function parseHemoglobinUnit(text: string): HemoglobinUnit {
  return parseUnit('hemoglobin', text, HEMOGLOBIN_UNITS);
}

/** Parses a height unit string. Throws `unit_unknown`, naming the accepted units, for others. */
export function parseHeightUnit(text: string): HeightUnit {
  return parseUnit('height', text, HEIGHT_UNITS);
}

/** Parses a weight unit string. Throws `unit_unknown`, naming the accepted units, for others. */
export function parseWeightUnit(text: string): WeightUnit {
  return parseUnit('weight', text, WEIGHT_UNITS);
}

function parseUnit<Unit extends string>(
  quantity: string,
  text: string,
  accepted: readonly Unit[],
): Unit {
  const unit = accepted.find((candidate) => candidate === text);
  if (unit === undefined) {
    throw new BvEdgeError(
      'unit_unknown',
      `Unknown ${quantity} unit "${text}": expected one of ${accepted.join(', ')}.`,
      { value: text },
    );
  }
  return unit;
}

// The converters do arithmetic only: they pass NaN and infinities through, so callers validate.

/** Converts a hemoglobin concentration in `unit` to g/dL. */
export function hemoglobinToGdl(value: number, unit: HemoglobinUnit): number {
  if (unit === 'g/L') return value / 10;
  if (unit === 'mmol/L') return value / HEMOGLOBIN_MMOL_L_PER_G_DL;
  return value;
}

/** Converts a hemoglobin concentration in g/dL to `unit`. */
export function hemoglobinFromGdl(valueGdl: number, unit: HemoglobinUnit): number {
  if (unit === 'g/L') return valueGdl * 10;
  if (unit === 'mmol/L') return valueGdl * HEMOGLOBIN_MMOL_L_PER_G_DL;
  return valueGdl;
}

/** Converts a height in `unit` to cm. */
export function heightToCm(value: number, unit: HeightUnit): number {
  return unit === 'm' ? value * 100 : value;
}

/** Converts a height in cm to `unit`. */
export function heightFromCm(valueCm: number, unit: HeightUnit): number {
  return unit === 'm' ? valueCm / 100 : valueCm;
}

/** Converts a weight in `unit` to kg. */
export function weightToKg(value: number, unit: WeightUnit): number {
  return unit === 'lb' ? value * KG_PER_LB : value;
}

/** Converts a weight in kg to `unit`. */
export function weightFromKg(valueKg: number, unit: WeightUnit): number {
  return unit === 'lb' ? valueKg / KG_PER_LB : valueKg;
}

/** Formats a hemoglobin concentration given in g/dL for a site's display unit, e.g. "130 g/L". */
export function formatHemoglobin(valueGdl: number, unit: HemoglobinUnit): string {
  const value = hemoglobinFromGdl(valueGdl, unit);
  return `${value.toFixed(HEMOGLOBIN_DECIMALS[unit])} ${unit}`;
}

/** Formats a height given in cm for a site's display unit, e.g. "1.75 m". */
export function formatHeight(valueCm: number, unit: HeightUnit): string {
  return `${heightFromCm(valueCm, unit).toFixed(HEIGHT_DECIMALS[unit])} ${unit}`;
}

/** Formats a weight given in kg for a site's display unit, e.g. "154 lb". */
export function formatWeight(valueKg: number, unit: WeightUnit): string {
  return `${weightFromKg(valueKg, unit).toFixed(WEIGHT_DECIMALS[unit])} ${unit}`;
}
