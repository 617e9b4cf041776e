import { parseDecimal } from '../core/numbers.ts';
import { DEFAULT_ANTICOAGULANT_ML_PER_BAG, type AnhBag, type AnhRecord } from '../clinical/anh.ts';
import type { HemoglobinUnit } from '../clinical/units.ts';
import type { Config } from '../config/index.ts';
import { BvEdgeError } from '../core/errors.ts';
import { UsageError, type OptionSpec } from './common.ts';

/** Site settings of the ANH commands, from the `clinical` section of the config. */
export interface AnhSiteSettings {
  /** Unit the site reads hemoglobin in. Values are stored in g/dL whatever the input unit. */
  hbDisplayUnit: HemoglobinUnit;
  /** Anticoagulant per collection bag, mL, when the command line gives none. */
  anticoagulantMlPerBag: number;
  /** Shortest equilibration before the second Hb sample that gives no warning, minutes. */
  minEquilibrationMinutes: number;
  /** Factor of the weight-based reference volume in training records, mL/kg. */
  weightBasedMlPerKg: number;
}

export function anhSiteSettings(clinical: Config['clinical']): AnhSiteSettings {
  return {
    hbDisplayUnit: clinical.hemoglobinUnit,
    anticoagulantMlPerBag: clinical.anticoagulantMlPerBag,
    minEquilibrationMinutes: clinical.minEquilibrationMinutes,
    weightBasedMlPerKg: clinical.bloodVolumeMlPerKg,
  };
}

/** Options shared by `bv-edge anh` and `bv-edge label`. */
export const ANH_OPTIONS: OptionSpec = {
  'hb-before': { type: 'string' },
  'hb-after': { type: 'string' },
  unit: { type: 'string' },
  'withdrawn-ml': { type: 'string' },
  bag: { type: 'string', multiple: true },
  'anticoagulant-ml': { type: 'string' },
  'replacement-fluid': { type: 'string' },
  'replacement-ml': { type: 'string' },
  'urine-ml': { type: 'string' },
  'bleeding-ml': { type: 'string' },
  'equilibration-min': { type: 'string' },
  method: { type: 'string' },
  json: { type: 'boolean' },
};

export const ANH_OPTIONS_HELP = `  --hb-before N          Hb before withdrawal, in --unit
  --hb-after N           Hb after replacement and equilibration, in --unit
  --unit U               unit of every Hb value: g/dL, g/L or mmol/L
  --withdrawn-ml N       blood withdrawn, mL, net of anticoagulant
  --bag ML[:HB]          one collection bag: gross volume, mL, and its Hb in --unit;
                         repeat per bag, in place of --withdrawn-ml
  --anticoagulant-ml N   anticoagulant per bag, mL (default: clinical.anticoagulantMlPerBag
                         of the config, ${DEFAULT_ANTICOAGULANT_ML_PER_BAG} unless set)
  --replacement-fluid F  replacement fluid, e.g. "Ringer's lactate"
  --replacement-ml N     replacement volume, mL
  --urine-ml N           urine output between the Hb samples, mL
  --bleeding-ml N        surgical blood loss between the Hb samples, mL
  --equilibration-min N  minutes from the end of replacement to the second Hb sample
  --method M             single-step, continuous-exchange or bag-hemoglobin (default: every
                         method the values allow)
  --json                 print one JSON object
`;

/** Error codes of the ANH and label validation that mean a value on the command line is invalid. */
const ANH_INPUT_ERRORS = new Set([
  'anh_record_invalid',
  'anh_method_unknown',
  'anh_options_invalid',
  'label_entry_invalid',
]);

type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Builds the ANH record from parsed options. Ranges are checked later by canonicalizeAnhRecord. */
export function anhRecordFrom(values: OptionValues, settings: AnhSiteSettings): AnhRecord {
  const record: AnhRecord = {
    hbBefore: requireNumber(values, 'hb-before'),
    hbAfter: requireNumber(values, 'hb-after'),
    hbUnit: requireString(values, 'unit'),
    anticoagulantMlPerBag:
      optionalNumber(values, 'anticoagulant-ml') ?? settings.anticoagulantMlPerBag,
  };
  const withdrawnMl = optionalNumber(values, 'withdrawn-ml');
  if (withdrawnMl !== undefined) record.withdrawnMl = withdrawnMl;
  const bags = values.bag;
  if (Array.isArray(bags)) record.bags = bags.map((bag) => parseBag(String(bag)));
  const fluid = values['replacement-fluid'];
  if (typeof fluid === 'string') record.replacementFluid = fluid;
  setOptional(record, 'replacementVolumeMl', optionalNumber(values, 'replacement-ml'));
  setOptional(record, 'urineOutputMl', optionalNumber(values, 'urine-ml'));
  setOptional(record, 'bleedingMl', optionalNumber(values, 'bleeding-ml'));
  setOptional(record, 'equilibrationMinutes', optionalNumber(values, 'equilibration-min'));
  return record;
}

/** Returns --method, or undefined for every method. The ANH module rejects unknown names. */
export function methodFrom(values: OptionValues): string | undefined {
  const method = values.method;
  return typeof method === 'string' ? method : undefined;
}

type OptionalNumberField =
  'replacementVolumeMl' | 'urineOutputMl' | 'bleedingMl' | 'equilibrationMinutes';

function setOptional(record: AnhRecord, field: OptionalNumberField, value: number | undefined) {
  if (value !== undefined) record[field] = value;
}

function parseBag(text: string): AnhBag {
  const [volume, hb, ...rest] = text.split(':');
  const volumeMl = parseNumber('--bag', volume ?? '', text);
  if (rest.length > 0) {
    throw new UsageError(`Invalid --bag "${text}": expected ML or ML:HB, e.g. 513:12.8.`);
  }
  return hb === undefined ? { volumeMl } : { volumeMl, hb: parseNumber('--bag', hb, text) };
}

function requireString(values: OptionValues, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') {
    throw new UsageError(`Missing --${name}. Run bv-edge --help for the ANH options.`);
  }
  return value;
}

function requireNumber(values: OptionValues, name: string): number {
  const text = requireString(values, name);
  return parseNumber(`--${name}`, text, text);
}

function optionalNumber(values: OptionValues, name: string): number | undefined {
  const value = values[name];
  if (typeof value !== 'string') return undefined;
  return parseNumber(`--${name}`, value, value);
}

function parseNumber(option: string, text: string, whole: string): number {
  const value = parseDecimal(text);
  if (!Number.isFinite(value)) {
    throw new UsageError(`Invalid ${option} "${whole}": expected a number.`);
  }
  return value;
}

/** Runs `compute` and turns the ANH validation errors into usage errors, which exit with code 2. */
export function asUsageErrors<T>(compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof BvEdgeError && ANH_INPUT_ERRORS.has(error.code)) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}
