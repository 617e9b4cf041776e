import type { AnhInputsCanonical, AnhLabel, AnhMethod } from '../clinical/anh.ts';
import { formatHemoglobin, type HemoglobinUnit } from '../clinical/units.ts';

/** Short method descriptions for the terminal. The formulas and their sources are in anh.ts. */
const METHOD_DESCRIPTIONS: Record<AnhMethod, string> = {
  'single-step': 'mass balance, all blood withdrawn then replaced',
  'continuous-exchange': 'withdrawal and replacement together (Bourke and Smith 1974)',
  'bag-hemoglobin': 'hemoglobin mass measured in the bags',
};

/** Formats ANH labels for a terminal: the inputs once, then one line per method, then warnings. */
export function formatAnhLabels(labels: AnhLabel[], hbDisplayUnit: HemoglobinUnit): string[] {
  const first = labels[0];
  if (!first) return [];
  const lines = [inputsLine(first.inputsCanonical, hbDisplayUnit)];
  for (const label of labels) {
    const volume = `${Math.round(label.bvMl)} mL`.padStart(8);
    lines.push(`  ${label.method.padEnd(20)}${volume}  ${METHOD_DESCRIPTIONS[label.method]}`);
  }
  // Every method shares the record's warnings. The list of all methods can add one more line.
  const warnings = [...new Set(labels.flatMap((label) => label.warnings.map(({ text }) => text)))];
  if (warnings.length > 0) lines.push('Warnings:', ...warnings.map((warning) => `  - ${warning}`));
  return lines;
}

function inputsLine(inputs: AnhInputsCanonical, unit: HemoglobinUnit): string {
  const hbBefore = formatHemoglobin(inputs.hbBeforeGdl, unit);
  const hbAfter = formatHemoglobin(inputs.hbAfterGdl, unit);
  const anticoagulant = `${inputs.anticoagulantMlPerBag} mL anticoagulant each`;
  const bags =
    inputs.bags.length === 0 ? '' : ` in ${inputs.bags.length} bag(s) with ${anticoagulant}`;
  const bleeding = inputs.bleedingMl > 0 ? `, ${inputs.bleedingMl} mL bleeding` : '';
  return (
    `ANH: Hb ${hbBefore} before, ${hbAfter} after, ` +
    `${round(inputs.withdrawnNetMl)} mL blood withdrawn${bags}${bleeding}`
  );
}

function round(value: number): string {
  return Math.round(value).toString();
}
