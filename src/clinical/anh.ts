import { BvEdgeError } from '../core/errors.ts';
import { plainNotice, type Notice } from '../core/notice.ts';
import { notice } from '../notices/index.ts';
import {
  HEMOGLOBIN_UNITS,
  hemoglobinFromGdl,
  hemoglobinToGdl,
  parseHemoglobinUnit,
  type HemoglobinUnit,
} from './units.ts';

/**
 * Blood-volume labels from acute normovolemic hemodilution (ANH). Blood is withdrawn and
 * replaced with cell-free fluid, and the fall in hemoglobin between a sample before and a sample
 * after gives the total blood volume (BV). Every method assumes that the circulating volume at
 * the second sample equals the starting BV, so the replacement warnings below matter.
 */
export const ANH_METHODS = ['single-step', 'continuous-exchange', 'bag-hemoglobin'] as const;
export type AnhMethod = (typeof ANH_METHODS)[number];

/**
 * Anticoagulant already in each collection bag, mL. 63 mL is the fill of a standard 450 mL CPD
 * or CPDA-1 bag (14 mL per 100 mL of blood). A 500 mL bag contains 70 mL, and a syringe or
 * cell-saver reservoir may contain none, so sites set it per record from the bag label.
 */
export const DEFAULT_ANTICOAGULANT_ML_PER_BAG = 63;

/**
 * Minimum time between the end of replacement and the second Hb sample, minutes. This is a site
 * setting, not a published threshold. A shorter time gives a warning, not an error.
 */
export const DEFAULT_MIN_EQUILIBRATION_MINUTES = 15;

/**
 * Accepted input ranges. The Hb and withdrawn-volume limits bound plausible ANH. The others only
 * reject typing slips, such as litres entered as mL.
 */
export const ANH_LIMITS = {
  hemoglobinGdl: { min: 3, max: 25 },
  withdrawnMl: { min: 0, max: 3000, minExclusive: true },
  bagGrossMl: { min: 0, max: 700, minExclusive: true },
  anticoagulantMlPerBag: { min: 0, max: 100 },
  replacementVolumeMl: { min: 0, max: 10_000 },
  urineOutputMl: { min: 0, max: 5000 },
  bleedingMl: { min: 0, max: 5000 },
  equilibrationMinutes: { min: 0, max: 600 },
} as const;

export interface AnhBag {
  /** Gross bag content, mL: the blood plus the anticoagulant that was already in the bag. */
  volumeMl: number;
  /** Hb of a sample of the mixed bag content, in the record's `hbUnit`. */
  hb?: number;
}

/** One ANH episode as entered. Give either `withdrawnMl` or `bags`, not both. */
export interface AnhRecord {
  /** Hb before withdrawal, in `hbUnit`. */
  hbBefore: number;
  /** Hb after replacement and equilibration, in `hbUnit`. */
  hbAfter: number;
  /** Unit of every Hb value in the record: 'g/dL', 'g/L' or 'mmol/L'. */
  hbUnit: string;
  /** Blood withdrawn, mL, net of anticoagulant. */
  withdrawnMl?: number;
  bags?: AnhBag[];
  /** Anticoagulant per bag, mL, used with `bags`. Defaults to DEFAULT_ANTICOAGULANT_ML_PER_BAG. */
  anticoagulantMlPerBag?: number;
  /** Replacement fluid, e.g. "Ringer's lactate" or "HES 6 %". Recorded, not used in the labels. */
  replacementFluid?: string;
  replacementVolumeMl?: number;
  urineOutputMl?: number;
  /** Surgical blood loss between the two Hb samples, mL, taken as 0 when not entered. */
  bleedingMl?: number;
  /** Minutes from the end of replacement to the second Hb sample. */
  equilibrationMinutes?: number;
}

export interface AnhOptions {
  /** Site minimum equilibration time, minutes. Defaults to DEFAULT_MIN_EQUILIBRATION_MINUTES. */
  minEquilibrationMinutes?: number;
}

export interface AnhBagCanonical {
  grossMl: number;
  /** Blood in the bag, mL: gross volume minus the anticoagulant. */
  netMl: number;
  hbGdl?: number;
}

/** The record after validation, in canonical units (g/dL, mL, minutes). */
export interface AnhInputsCanonical {
  hbBeforeGdl: number;
  hbAfterGdl: number;
  hbUnitEntered: HemoglobinUnit;
  /** Blood withdrawn net of anticoagulant, mL. */
  withdrawnNetMl: number;
  /** Empty when the record gave `withdrawnMl`. */
  bags: AnhBagCanonical[];
  anticoagulantMlPerBag: number;
  replacementFluid?: string;
  replacementVolumeMl?: number;
  urineOutputMl?: number;
  bleedingMl: number;
  equilibrationMinutes?: number;
}

export interface AnhLabel {
  method: AnhMethod;
  /** Total blood volume before ANH, mL, unrounded. */
  bvMl: number;
  inputsCanonical: AnhInputsCanonical;
  /** Conditions that make this label less certain. Empty when none apply. */
  warnings: Notice[];
}

interface Range {
  min: number;
  max: number;
  minExclusive?: boolean;
}

/**
 * Computes the BV label of one method. Throws `anh_record_invalid` listing every invalid field,
 * with its value and the allowed range, and `anh_method_unknown` for an unknown method.
 */
export function computeAnhLabel(
  record: AnhRecord,
  method: AnhMethod,
  options: AnhOptions = {},
): AnhLabel {
  assertMethod(method);
  const inputs = canonicalizeAnhRecord(record, {
    requireBagHemoglobin: method === 'bag-hemoglobin',
  });
  const warnings = collectWarnings(inputs, readMinEquilibration(options));
  return { method, bvMl: computeBloodVolumeMl(method, inputs), inputsCanonical: inputs, warnings };
}

/**
 * Computes the BV label of every method the record supports: always single-step and
 * continuous-exchange, and bag-hemoglobin when every bag has an Hb. Throws as computeAnhLabel.
 */
export function computeAnhLabels(record: AnhRecord, options: AnhOptions = {}): AnhLabel[] {
  const inputs = canonicalizeAnhRecord(record);
  const warnings = collectWarnings(inputs, readMinEquilibration(options));
  const methods: AnhMethod[] = ['single-step', 'continuous-exchange'];
  const missingHb = bagsMissingHemoglobin(inputs.bags);
  if (inputs.bags.length > 0 && missingHb.length === 0) {
    methods.push('bag-hemoglobin');
  } else if (missingHb.length > 0) {
    warnings.push(notice('notice.anh.bagHbNotComputed', { fields: missingHb.join(', ') }));
  }
  return methods.map((method) => ({
    method,
    bvMl: computeBloodVolumeMl(method, inputs),
    inputsCanonical: inputs,
    warnings: [...warnings],
  }));
}

/**
 * Computes BV, mL, from validated inputs. Surgical bleeding between the samples is blood lost
 * alongside the withdrawal, so it is added to the lost volume. For the bag method its Hb is taken
 * as the mean of the two samples, because it was lost while Hb fell between them.
 */
/**
 * Labels outside this range, mL, come from a typing slip (an Hb drop of 0.01 g/dL, a volume in L),
 * not from an adult patient, so they are rejected rather than stored as training truth. The range
 * is deliberately wide: it is the reference bundle's plausible range of estimates.
 */
export const ANH_LABEL_RANGE_ML = { min: 1000, max: 15000 } as const;

function computeBloodVolumeMl(method: AnhMethod, inputs: AnhInputsCanonical): number {
  const bvMl = computeUncheckedBloodVolumeMl(method, inputs);
  const { min, max } = ANH_LABEL_RANGE_ML;
  if (!(bvMl >= min && bvMl <= max)) {
    // NaN and ±Infinity travel as strings, because JSON would send them as null.
    const value = Number.isFinite(bvMl) ? Math.round(bvMl) : String(bvMl);
    const outside = notice('notice.anh.labelOutside', { method, value, min, max });
    throw new BvEdgeError('anh_record_invalid', outside, { value: bvMl });
  }
  return bvMl;
}

function computeUncheckedBloodVolumeMl(method: AnhMethod, inputs: AnhInputsCanonical): number {
  const { hbBeforeGdl: hb0, hbAfterGdl: hb1, bleedingMl } = inputs;
  const lostMl = inputs.withdrawnNetMl + bleedingMl;
  if (method === 'single-step') {
    // Mass balance with all blood withdrawn at hb0, then replaced to the starting volume:
    // hb1 · BV = hb0 · (BV − lost).
    return (lostMl * hb0) / (hb0 - hb1);
  }
  if (method === 'continuous-exchange') {
    // Withdrawal and replacement run together, so Hb decays exponentially with the volume
    // exchanged: lost = BV · ln(hb0 / hb1). Source: Bourke DL, Smith TC. Estimating allowable
    // hemodilution. Anesthesiology 1974;41:609–612.
    return lostMl / Math.log(hb0 / hb1);
  }
  // Hb mass removed in the bags, g/dL · mL, divided by the fall in concentration. The gross
  // volume is used because the bag Hb was measured on the blood diluted by its anticoagulant.
  const bagHbMass = inputs.bags.reduce((sum, bag) => sum + bag.grossMl * requireHbGdl(bag), 0);
  const bleedingHbMass = (bleedingMl * (hb0 + hb1)) / 2;
  return (bagHbMass + bleedingHbMass) / (hb0 - hb1);
}

function requireHbGdl(bag: AnhBagCanonical): number {
  if (bag.hbGdl === undefined) {
    throw new BvEdgeError('anh_record_invalid', notice('notice.anh.bagHbRequired'));
  }
  return bag.hbGdl;
}

function assertMethod(method: string): asserts method is AnhMethod {
  if (!ANH_METHODS.some((known) => known === method)) {
    const unknown = notice('notice.anh.methodUnknown', {
      value: String(method),
      methods: ANH_METHODS.join(', '),
    });
    throw new BvEdgeError('anh_method_unknown', unknown, { value: method });
  }
}

function readMinEquilibration(options: AnhOptions): number {
  const minutes = options.minEquilibrationMinutes ?? DEFAULT_MIN_EQUILIBRATION_MINUTES;
  const problems: Notice[] = [];
  readNumber('minEquilibrationMinutes', minutes, 'min', ANH_LIMITS.equilibrationMinutes, problems);
  if (problems.length > 0) {
    throw new BvEdgeError('anh_options_invalid', problemsNotice(problems), { value: minutes });
  }
  return minutes;
}

function bagsMissingHemoglobin(bags: AnhBagCanonical[]): string[] {
  return bags.flatMap((bag, index) => (bag.hbGdl === undefined ? [`bags[${index}].hb`] : []));
}

/**
 * Combines the problems of one validation into the notice of its error. The text lists every
 * problem, in English. The key and values are those of the first problem, so that the page shows
 * that one in its language, and `count` gives the number of problems.
 */
function problemsNotice(problems: readonly Notice[]): Notice {
  const first = problems[0];
  // Every reader that returns undefined adds a problem, so this guards a future slip only.
  if (first === undefined) return plainNotice('Invalid ANH record.');
  if (problems.length === 1) return first;
  return {
    key: first.key,
    params: { ...first.params, count: problems.length },
    text: problems.map((problem) => problem.text).join(' '),
  };
}

// ---- Validation: every reader appends a notice to `problems` and returns undefined on failure.

/**
 * Validates a record and converts it to canonical units, collecting every problem into one
 * `anh_record_invalid` error. Set `requireBagHemoglobin` for the bag-hemoglobin method, which
 * rejects a record without bags or with a bag lacking its Hb.
 */
export function canonicalizeAnhRecord(
  record: AnhRecord,
  options: { requireBagHemoglobin?: boolean } = {},
): AnhInputsCanonical {
  const requireBagHemoglobin = options.requireBagHemoglobin ?? false;
  const problems: Notice[] = [];
  const unit = readHemoglobinUnit(record.hbUnit, problems);
  const hbBeforeGdl = readHemoglobin('hbBefore', record.hbBefore, unit, problems);
  const hbAfterGdl = readHemoglobin('hbAfter', record.hbAfter, unit, problems);
  checkHemoglobinFell(record, hbBeforeGdl, hbAfterGdl, unit, problems);
  const withdrawal = readWithdrawal(record, unit, requireBagHemoglobin, problems);
  const extras = readExtras(record, problems);
  if (
    problems.length > 0 ||
    unit === undefined ||
    hbBeforeGdl === undefined ||
    hbAfterGdl === undefined ||
    withdrawal === undefined
  ) {
    throw new BvEdgeError('anh_record_invalid', problemsNotice(problems), { value: record });
  }
  return { hbBeforeGdl, hbAfterGdl, hbUnitEntered: unit, ...withdrawal, ...extras };
}

function readHemoglobinUnit(text: string, problems: Notice[]): HemoglobinUnit | undefined {
  try {
    return parseHemoglobinUnit(text);
  } catch (error) {
    if (!(error instanceof BvEdgeError)) throw error;
    const units = HEMOGLOBIN_UNITS.join(', ');
    problems.push(notice('notice.anh.unitInvalid', { value: String(text), units }));
    return undefined;
  }
}

/** Reads an Hb value in `unit` and returns it in g/dL. Messages use the unit entered. */
function readHemoglobin(
  field: string,
  value: number,
  unit: HemoglobinUnit | undefined,
  problems: Notice[],
): number | undefined {
  if (unit === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    problems.push(notice('notice.anh.notNumber', { field, value: String(value), unit }));
    return undefined;
  }
  const gdl = hemoglobinToGdl(value, unit);
  const { min, max } = ANH_LIMITS.hemoglobinGdl;
  if (gdl < min || gdl > max) {
    problems.push(hemoglobinOutside(field, value, unit));
    return undefined;
  }
  return gdl;
}

/**
 * Formats the accepted Hb range in `unit`, with the g/dL range after it for other units, e.g.
 * "3–25 g/dL" or "1.86–15.52 mmol/L (3–25 g/dL)".
 */
export function hemoglobinRangeText(unit: HemoglobinUnit): string {
  const { min, max } = ANH_LIMITS.hemoglobinGdl;
  const inGdl = `${min}–${max} g/dL`;
  if (unit === 'g/dL') return inGdl;
  return `${formatInUnit(min, unit)}–${formatInUnit(max, unit)} ${unit} (${inGdl})`;
}

function formatInUnit(valueGdl: number, unit: HemoglobinUnit): string {
  return String(roundInUnit(valueGdl, unit));
}

/** Converts a value in g/dL to `unit`, rounded to two decimals. */
function roundInUnit(valueGdl: number, unit: HemoglobinUnit): number {
  return Number(hemoglobinFromGdl(valueGdl, unit).toFixed(2));
}

/** Builds the problem of an Hb outside the accepted range, which hemoglobinRangeText states. */
function hemoglobinOutside(field: string, value: number, unit: HemoglobinUnit): Notice {
  const { min, max } = ANH_LIMITS.hemoglobinGdl;
  if (unit === 'g/dL') return notice('notice.anh.outside', { field, value, unit, min, max });
  return notice('notice.anh.hbOutsideConverted', {
    field,
    value,
    unit,
    min: roundInUnit(min, unit),
    max: roundInUnit(max, unit),
    minGdl: min,
    maxGdl: max,
  });
}

function checkHemoglobinFell(
  record: AnhRecord,
  hbBeforeGdl: number | undefined,
  hbAfterGdl: number | undefined,
  unit: HemoglobinUnit | undefined,
  problems: Notice[],
): void {
  if (unit === undefined || hbBeforeGdl === undefined || hbAfterGdl === undefined) return;
  if (hbAfterGdl < hbBeforeGdl) return;
  problems.push(
    notice('notice.anh.hbNotLower', { after: record.hbAfter, before: record.hbBefore, unit }),
  );
}

function readNumber(
  field: string,
  value: unknown,
  unit: string,
  range: Range,
  problems: Notice[],
): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    problems.push(notice('notice.anh.notNumber', { field, value: String(value), unit }));
    return undefined;
  }
  const belowMin = range.minExclusive ? value <= range.min : value < range.min;
  if (belowMin || value > range.max) {
    const key = range.minExclusive ? 'notice.anh.outsideExclusive' : 'notice.anh.outside';
    problems.push(notice(key, { field, value, unit, min: range.min, max: range.max }));
    return undefined;
  }
  return value;
}

type Withdrawal = Pick<AnhInputsCanonical, 'withdrawnNetMl' | 'bags' | 'anticoagulantMlPerBag'>;

function readWithdrawal(
  record: AnhRecord,
  unit: HemoglobinUnit | undefined,
  requireBagHemoglobin: boolean,
  problems: Notice[],
): Withdrawal | undefined {
  const anticoagulantMlPerBag = readNumber(
    'anticoagulantMlPerBag',
    record.anticoagulantMlPerBag ?? DEFAULT_ANTICOAGULANT_ML_PER_BAG,
    'mL',
    ANH_LIMITS.anticoagulantMlPerBag,
    problems,
  );
  if (record.withdrawnMl !== undefined && record.bags !== undefined) {
    problems.push(notice('notice.anh.withdrawalBoth'));
    return undefined;
  }
  if (record.bags !== undefined) {
    if (anticoagulantMlPerBag === undefined) return undefined;
    return readBags(record.bags, anticoagulantMlPerBag, unit, requireBagHemoglobin, problems);
  }
  if (requireBagHemoglobin) {
    problems.push(notice('notice.anh.bagsRequired'));
    return undefined;
  }
  if (record.withdrawnMl === undefined) {
    problems.push(notice('notice.anh.withdrawnMissing'));
    return undefined;
  }
  const withdrawnNetMl = readNumber(
    'withdrawnMl',
    record.withdrawnMl,
    'mL',
    ANH_LIMITS.withdrawnMl,
    problems,
  );
  if (withdrawnNetMl === undefined || anticoagulantMlPerBag === undefined) return undefined;
  return { withdrawnNetMl, bags: [], anticoagulantMlPerBag };
}

function readBags(
  bags: AnhBag[],
  anticoagulantMlPerBag: number,
  unit: HemoglobinUnit | undefined,
  requireBagHemoglobin: boolean,
  problems: Notice[],
): Withdrawal | undefined {
  if (!Array.isArray(bags) || bags.length === 0) {
    problems.push(notice('notice.anh.bagsEmpty'));
    return undefined;
  }
  const canonical = bags.map((bag, index) =>
    readBag(bag, index, anticoagulantMlPerBag, unit, requireBagHemoglobin, problems),
  );
  if (canonical.some((bag) => bag === undefined)) return undefined;
  const valid = canonical.filter((bag): bag is AnhBagCanonical => bag !== undefined);
  const totalNetMl = valid.reduce((sum, bag) => sum + bag.netMl, 0);
  const withdrawnNetMl = readNumber(
    // The catalogue names this field "withdrawn volume (bags net of anticoagulant)".
    'bagsNetMl',
    totalNetMl,
    'mL',
    ANH_LIMITS.withdrawnMl,
    problems,
  );
  if (withdrawnNetMl === undefined) return undefined;
  return { withdrawnNetMl, bags: valid, anticoagulantMlPerBag };
}

function readBag(
  bag: AnhBag,
  index: number,
  anticoagulantMlPerBag: number,
  unit: HemoglobinUnit | undefined,
  requireBagHemoglobin: boolean,
  problems: Notice[],
): AnhBagCanonical | undefined {
  const field = `bags[${index}]`;
  const grossMl = readNumber(
    `${field}.volumeMl`,
    bag.volumeMl,
    'mL',
    ANH_LIMITS.bagGrossMl,
    problems,
  );
  const hbGdl = readBagHemoglobin(bag, field, unit, requireBagHemoglobin, problems);
  if (grossMl === undefined || hbGdl === null) return undefined;
  if (grossMl <= anticoagulantMlPerBag) {
    problems.push(
      notice('notice.anh.bagBelowAnticoagulant', {
        field: `${field}.volumeMl`,
        value: grossMl,
        anticoagulant: anticoagulantMlPerBag,
      }),
    );
    return undefined;
  }
  const netMl = grossMl - anticoagulantMlPerBag;
  return hbGdl === undefined ? { grossMl, netMl } : { grossMl, netMl, hbGdl };
}

/** Returns the bag Hb in g/dL, undefined when absent and allowed, or null on a problem. */
function readBagHemoglobin(
  bag: AnhBag,
  field: string,
  unit: HemoglobinUnit | undefined,
  requireBagHemoglobin: boolean,
  problems: Notice[],
): number | undefined | null {
  if (bag.hb === undefined) {
    if (!requireBagHemoglobin) return undefined;
    const hbField = `${field}.hb`;
    problems.push(
      unit === undefined
        ? notice('notice.anh.bagHbMissingNoUnit', { field: hbField })
        : notice('notice.anh.bagHbMissing', { field: hbField, unit }),
    );
    return null;
  }
  return readHemoglobin(`${field}.hb`, bag.hb, unit, problems) ?? null;
}

type Extras = Pick<
  AnhInputsCanonical,
  | 'replacementFluid'
  | 'replacementVolumeMl'
  | 'urineOutputMl'
  | 'bleedingMl'
  | 'equilibrationMinutes'
>;

function readExtras(record: AnhRecord, problems: Notice[]): Extras {
  const extras: Extras = {
    bleedingMl:
      readNumber('bleedingMl', record.bleedingMl ?? 0, 'mL', ANH_LIMITS.bleedingMl, problems) ?? 0,
  };
  const fluid = record.replacementFluid?.trim();
  if (fluid) extras.replacementFluid = fluid;
  const optional = [
    ['replacementVolumeMl', 'mL'],
    ['urineOutputMl', 'mL'],
    ['equilibrationMinutes', 'min'],
  ] as const;
  for (const [field, unit] of optional) {
    if (record[field] === undefined) continue;
    const value = readNumber(field, record[field], unit, ANH_LIMITS[field], problems);
    if (value !== undefined) extras[field] = value;
  }
  return extras;
}

// ---- Warnings: conditions that weaken a label without making it invalid.

function collectWarnings(inputs: AnhInputsCanonical, minEquilibrationMinutes: number): Notice[] {
  return [
    hemoglobinWarning('hbBefore', inputs.hbBeforeGdl, inputs.hbUnitEntered),
    hemoglobinWarning('hbAfter', inputs.hbAfterGdl, inputs.hbUnitEntered),
    equilibrationWarning(inputs.equilibrationMinutes, minEquilibrationMinutes),
    bleedingWarning(inputs.bleedingMl),
    replacementWarning(inputs),
  ].filter((warning): warning is Notice => warning !== undefined);
}

/**
 * Hb limits above which an entered value more likely has the wrong unit than a real patient
 * behind it. 18 g/dL lies above the WHO 2016 polycythaemia vera threshold (16.5 g/dL in men,
 * 16.0 g/dL in women; Arber et al., Blood 2016;127:2391). 12 mmol/L is 19.3 g/dL, while Hb
 * values typed in g/dL are mostly 7–17, so an mmol/L value above 12 was likely typed in g/dL.
 */
const SUSPICIOUS_HB = { gdl: 18, mmolL: 12 } as const;

function hemoglobinWarning(field: string, gdl: number, unit: HemoglobinUnit): Notice | undefined {
  const entered = hemoglobinFromGdl(gdl, unit);
  const value = roundInUnit(gdl, unit);
  const gdlRounded = Math.round(gdl * 10) / 10;
  if (unit === 'mmol/L' && entered > SUSPICIOUS_HB.mmolL) {
    const limit = SUSPICIOUS_HB.mmolL;
    return notice('notice.anh.hbLooksLikeGdl', { field, value, gdl: gdlRounded, limit });
  }
  if (gdl <= SUSPICIOUS_HB.gdl) return undefined;
  if (unit === 'g/dL')
    return notice('notice.anh.hbRare', { field, value, limit: SUSPICIOUS_HB.gdl });
  return notice('notice.anh.hbRareConverted', {
    field,
    value,
    unit,
    gdl: gdlRounded,
    limit: SUSPICIOUS_HB.gdl,
  });
}

function equilibrationWarning(minutes: number | undefined, minimum: number): Notice | undefined {
  if (minutes === undefined) return notice('notice.anh.equilibrationMissing', { min: minimum });
  if (minutes >= minimum) return undefined;
  return notice('notice.anh.equilibrationShort', { value: minutes, min: minimum });
}

function bleedingWarning(bleedingMl: number): Notice | undefined {
  if (bleedingMl === 0) return undefined;
  return notice('notice.anh.bleeding', { value: bleedingMl });
}

/**
 * Warns when the replacement cannot have restored the starting volume. Any fluid volume smaller
 * than the losses leaves the patient hypovolemic, which makes every method overestimate BV.
 * NOTE: a replacement volume at or above the losses is not checked further, because the share of
 * a fluid that stays intravascular (colloid versus crystalloid) is not modelled here.
 */
function replacementWarning(inputs: AnhInputsCanonical): Notice | undefined {
  const { replacementVolumeMl, withdrawnNetMl, bleedingMl } = inputs;
  if (replacementVolumeMl === undefined) return notice('notice.anh.replacementMissing');
  const lossesMl = withdrawnNetMl + bleedingMl + (inputs.urineOutputMl ?? 0);
  if (replacementVolumeMl >= lossesMl) return undefined;
  const losses = Math.round(lossesMl * 10) / 10;
  return notice('notice.anh.replacementShort', { value: replacementVolumeMl, losses });
}
