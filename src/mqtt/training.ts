import type { AnhInputsCanonical, AnhMethod } from '../clinical/anh.ts';
import { computeBmi } from '../clinical/population.ts';
import { weightBasedBloodVolumeMl } from '../clinical/weight-based.ts';
import type { Notice } from '../core/notice.ts';
import type { Covariates, PopulationFlag, ScanRecord, Sex, ViewResult } from '../scan/types.ts';
import {
  finiteOrNull,
  populationSummary,
  quantity,
  viewSummary,
  type PopulationSummary,
  type Quantity,
  type ViewSummary,
} from './payload.ts';

// Units are UCUM codes as in payload.ts, plus "g/dL", "kg/m2", "cm", "kg", "a" (years), "min"
// and "/s" (frames per second).

export const TRAINING_SCHEMA = 'bv-edge/training-record';
export const TRAINING_SCHEMA_VERSION = 1;

/** The ANH label a training record carries, as the label-entry function stored it. */
export interface TrainingLabelSource {
  labelId: string;
  method: AnhMethod;
  /** Total blood volume before ANH, mL. */
  bvMl: number;
  inputsCanonical: AnhInputsCanonical;
  warnings: Notice[];
  revision: number;
  enteredAt: string;
}

export interface TrainingRecordOptions {
  /** Stable id of this message, so the server can drop duplicates of at-least-once delivery. */
  recordId: string;
  createdAt: string;
  /** Population check at label entry, which can use the ANH Hb when the scan had no Hb. */
  population: PopulationFlag;
  /** Site factor for the weight-based reference volume, mL/kg. Defaults to 70 mL/kg. */
  weightBasedMlPerKg?: number;
}

export interface TrainingCovariates {
  height: Quantity;
  weight: Quantity;
  sex: Sex;
  age: Quantity | null;
  hbPreop: Quantity | null;
  bmi: Quantity;
}

export interface TrainingView extends ViewSummary {
  fps: Quantity;
  mmPerPixel: Quantity;
  /** Lumen area per frame; frames where the lumen was lost are null. */
  areaSeries: { values: (number | null)[]; unit: string };
  /** Output of the view's ONNX model, dimensionless. */
  features: (number | null)[];
}

export interface TrainingBag {
  gross: Quantity;
  net: Quantity;
  hb: Quantity | null;
}

export interface TrainingLabelInputs {
  hbBefore: Quantity;
  hbAfter: Quantity;
  /** The unit the coordinator typed the Hb values in; the values here are in g/dL. */
  hbUnitEntered: string;
  withdrawnNet: Quantity;
  bags: TrainingBag[];
  anticoagulantPerBag: Quantity;
  replacementFluid: string | null;
  replacementVolume: Quantity | null;
  urineOutput: Quantity | null;
  bleeding: Quantity;
  equilibrationTime: Quantity | null;
}

export interface TrainingLabel {
  labelId: string;
  method: AnhMethod;
  /** 1 for the first entry, raised by each edit. Consumers keep the highest per case and method. */
  revision: number;
  enteredAt: string;
  bloodVolume: Quantity;
  inputs: TrainingLabelInputs;
  warnings: string[];
}

/** The estimate the cart made from the same scan, and the formula volumes for comparison. */
export interface TrainingEstimate {
  estimateId: string;
  model: { name: string; version: string };
  bloodVolume: Quantity;
  nadlerBloodVolume: Quantity;
  weightBasedBloodVolume: Quantity & { mlPerKg: number };
  /** The population check stored with the estimate at scan time. */
  population: PopulationSummary;
}

/**
 * One (ultrasound views, true blood volume) pair for the training server. The patient is named
 * only by the pseudonymous case id; who entered the label and the clip file names stay on the
 * cart.
 */
export interface TrainingRecordMessage {
  schema: typeof TRAINING_SCHEMA;
  schemaVersion: typeof TRAINING_SCHEMA_VERSION;
  recordId: string;
  caseId: string;
  createdAt: string;
  covariates: TrainingCovariates;
  population: PopulationSummary;
  estimate: TrainingEstimate;
  views: TrainingView[];
  label: TrainingLabel;
}

/**
 * Builds the training-topic payload of a labelled case. Fields are copied one by one, so
 * properties a caller adds to the scan or label at run time (a name, an MRN) are never forwarded.
 */
export function trainingRecordMessage(
  scan: ScanRecord,
  label: TrainingLabelSource,
  options: TrainingRecordOptions,
): TrainingRecordMessage {
  return {
    schema: TRAINING_SCHEMA,
    schemaVersion: TRAINING_SCHEMA_VERSION,
    recordId: options.recordId,
    caseId: scan.caseId,
    createdAt: options.createdAt,
    covariates: trainingCovariates(scan.covariates, scan.hbPreopGdl),
    population: populationSummary(options.population),
    estimate: trainingEstimate(scan, options.weightBasedMlPerKg),
    views: scan.views.map(trainingView),
    label: trainingLabel(label),
  };
}

function trainingCovariates(
  covariates: Covariates,
  hbPreopGdl: number | undefined,
): TrainingCovariates {
  const { heightCm, weightKg, ageYears } = covariates;
  return {
    height: quantity(heightCm, 'cm'),
    weight: quantity(weightKg, 'kg'),
    sex: covariates.sex,
    age: optionalQuantity(ageYears, 'a'),
    hbPreop: optionalQuantity(hbPreopGdl, 'g/dL'),
    bmi: quantity(computeBmi(heightCm, weightKg), 'kg/m2'),
  };
}

function trainingEstimate(scan: ScanRecord, mlPerKg: number | undefined): TrainingEstimate {
  const { estimate } = scan;
  const weightBasedMl = weightBasedBloodVolumeMl(scan.covariates.weightKg, mlPerKg);
  return {
    estimateId: scan.estimateId,
    model: { name: estimate.modelName, version: estimate.modelVersion },
    bloodVolume: quantity(estimate.bvMl, 'mL'),
    nadlerBloodVolume: quantity(estimate.nadlerMl, 'mL'),
    weightBasedBloodVolume: {
      ...quantity(weightBasedMl, 'mL'),
      mlPerKg: weightBasedMl / scan.covariates.weightKg,
    },
    population: populationSummary(estimate.population),
  };
}

function trainingView(view: ViewResult): TrainingView {
  return {
    ...viewSummary(view),
    fps: quantity(view.fps, '/s'),
    mmPerPixel: quantity(view.mmPerPixel, 'mm'),
    areaSeries: { values: view.areaSeriesMm2.map(finiteOrNull), unit: 'mm2' },
    features: view.features.map(finiteOrNull),
  };
}

function trainingLabel(label: TrainingLabelSource): TrainingLabel {
  return {
    labelId: label.labelId,
    method: label.method,
    revision: label.revision,
    enteredAt: label.enteredAt,
    bloodVolume: quantity(label.bvMl, 'mL'),
    inputs: trainingLabelInputs(label.inputsCanonical),
    warnings: label.warnings.map((warning) => warning.text),
  };
}

function trainingLabelInputs(inputs: AnhInputsCanonical): TrainingLabelInputs {
  return {
    hbBefore: quantity(inputs.hbBeforeGdl, 'g/dL'),
    hbAfter: quantity(inputs.hbAfterGdl, 'g/dL'),
    hbUnitEntered: inputs.hbUnitEntered,
    withdrawnNet: quantity(inputs.withdrawnNetMl, 'mL'),
    bags: inputs.bags.map((bag) => ({
      gross: quantity(bag.grossMl, 'mL'),
      net: quantity(bag.netMl, 'mL'),
      hb: optionalQuantity(bag.hbGdl, 'g/dL'),
    })),
    anticoagulantPerBag: quantity(inputs.anticoagulantMlPerBag, 'mL'),
    replacementFluid: inputs.replacementFluid ?? null,
    replacementVolume: optionalQuantity(inputs.replacementVolumeMl, 'mL'),
    urineOutput: optionalQuantity(inputs.urineOutputMl, 'mL'),
    bleeding: quantity(inputs.bleedingMl, 'mL'),
    equilibrationTime: optionalQuantity(inputs.equilibrationMinutes, 'min'),
  };
}

function optionalQuantity(value: number | undefined, unit: string): Quantity | null {
  return value === undefined ? null : quantity(value, unit);
}
