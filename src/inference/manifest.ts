import { z } from 'zod';
import { VIEW_NAMES } from '../core/image.ts';
import { BvEdgeError } from '../core/errors.ts';
import { checkRange } from '../ota/semver.ts';

/** Tensor names of the fusion model that the engine feeds and reads. */
export const FUSION_INPUT_NAMES = {
  viewFeatures: 'view_features',
  viewMask: 'view_mask',
  covariates: 'covariates',
} as const;
export const FUSION_OUTPUT_NAMES = {
  bv: 'bv_ml',
  lower: 'bv_lower_ml',
  upper: 'bv_upper_ml',
  /** Optional: largest |standardised feature| of the present views, before clipping. */
  maxAbsZ: 'max_abs_z',
} as const;

/**
 * Covariates the scan feeds the fusion model, in this order: height cm, weight kg, sex (1 male,
 * 0 female), age years, and Nadler's blood volume in mL computed from the first three.
 */
export const COVARIATE_NAMES = ['height_cm', 'weight_kg', 'sex_male', 'age_years', 'nadler_ml'];

/** Fusion outputs every bundle must have; the others are optional. */
const REQUIRED_FUSION_OUTPUTS = [
  FUSION_OUTPUT_NAMES.bv,
  FUSION_OUTPUT_NAMES.lower,
  FUSION_OUTPUT_NAMES.upper,
];

/** A file name inside the bundle directory: no separators, no leading dot. */
const bundleFileName = z
  .string()
  .regex(
    /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/,
    'expected a plain file name inside the bundle directory',
  );
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits (SHA-256)');
const viewName = z.enum(VIEW_NAMES);
const shape = z.array(z.int().positive()).min(1);

const tensorSpec = z.object({
  name: z.string().min(1),
  dtype: z.literal('float32'),
  shape,
});

/**
 * Input of a per-view model. Layout NTHW contains grey levels for pixelFormat gray8, and NTHWC
 * contains interleaved R, G, B for rgb24. Either way the tensor is (pixel − subtract) / divide.
 */
const viewInputSpec = tensorSpec
  .extend({
    layout: z.enum(['NTHW', 'NTHWC']),
    pixelFormat: z.enum(['gray8', 'rgb24']),
    frames: z.int().positive(),
    rateHz: z.number().positive(),
    width: z.int().positive(),
    height: z.int().positive(),
    normalisation: z.object({ subtract: z.number(), divide: z.number().positive() }),
    /** Crop side as a multiple of the lumen's maximum equivalent diameter √(AP · lateral). */
    cropScale: z.number().positive(),
    resampling: z.literal('bilinear'),
  })
  .superRefine((input, context) => {
    const expected =
      input.pixelFormat === 'gray8'
        ? { layout: 'NTHW', shape: [1, input.frames, input.height, input.width] }
        : { layout: 'NTHWC', shape: [1, input.frames, input.height, input.width, 3] };
    if (input.layout !== expected.layout) {
      context.addIssue({
        code: 'custom',
        path: ['layout'],
        input: input.layout,
        message: `expected layout ${expected.layout} for pixelFormat ${input.pixelFormat}`,
      });
    }
    if (input.shape.join(',') !== expected.shape.join(',')) {
      context.addIssue({
        code: 'custom',
        path: ['shape'],
        input: input.shape,
        message: `expected shape [${expected.shape.join(', ')}] from frames, height, width and pixelFormat`,
      });
    }
  });

const viewOutputSpec = tensorSpec
  .extend({ featureNames: z.array(z.string().min(1)).min(1) })
  .superRefine((output, context) => {
    const expected = [1, output.featureNames.length];
    if (output.shape.join(',') !== expected.join(',')) {
      context.addIssue({
        code: 'custom',
        path: ['shape'],
        input: output.shape,
        message: `expected shape [${expected.join(', ')}], one entry per feature name`,
      });
    }
  });

const viewModelSpec = z.object({
  file: bundleFileName,
  sha256,
  input: viewInputSpec,
  output: viewOutputSpec,
});

const fusionSpec = z.object({
  file: bundleFileName,
  sha256,
  /** Order of the views along axis 1 of view_features and view_mask. */
  viewOrder: z.array(viewName).min(1),
  inputs: z.array(tensorSpec).min(1),
  /** Unit "mL" for volumes, "1" for dimensionless outputs. */
  outputs: z.array(tensorSpec.extend({ unit: z.enum(['mL', '1']) })).min(1),
  interval: z.object({ level: z.number().gt(0).lt(1) }),
  /** Standardised features are clipped to ±this before the linear model; absent when not clipped. */
  zScoreLimit: z.number().positive().optional(),
});

const provenanceSpec = z.object({
  trainingData: z.string().min(1),
  cohortSize: z.int().positive(),
  cvFolds: z.int().positive(),
  /** Out-of-fold RMSE of BV, mL. */
  cvRmseMl: z.number().nonnegative(),
  /** Out-of-fold coefficient of determination of the quantity named in r2Target. */
  r2: z.number(),
  r2Target: z.string().min(1),
  builtBy: z.string().min(1),
  details: z.record(z.string(), z.number()).optional(),
});

const testVectorSpec = z.object({
  file: bundleFileName,
  sha256,
  /** An output passes when |found − expected| ≤ absolute + relative · |expected|. */
  tolerance: z.object({ absolute: z.number().nonnegative(), relative: z.number().nonnegative() }),
});

/** Daemon versions and execution providers a bundle needs; every field is optional. */
const requiresSpec = z.strictObject({
  /** npm semver range of the bv-edge versions the bundle runs on, e.g. ">=0.1.0 <1.0.0". */
  daemon: z
    .string()
    .min(1)
    .refine((range) => {
      try {
        checkRange(range);
        return true;
      } catch {
        return false;
      }
    }, 'expected an npm semver range such as ">=0.1.0 <1.0.0"')
    .optional(),
  /** The bundle runs only on these providers; a device needs at least one of them. */
  providers: z
    .array(z.enum(['tensorrt', 'cuda', 'cpu']))
    .min(1)
    .optional(),
});

const manifestObject = z.object({
  schemaVersion: z.literal(1),
  name: z.string().min(1),
  version: z.string().min(1),
  intendedUse: z.enum(['reference', 'research', 'clinical']),
  notice: z.string().min(1),
  /**
   * Translations of the notice by BCP 47 tag (e.g. "zh-CN"). The page shows the one of its
   * language and the English `notice` where a language is missing.
   */
  noticeTranslations: z
    .record(z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/), z.string().min(1))
    .optional(),
  onnxOpset: z.int().positive(),
  /** One model per view; requiredViews and optionalViews list which views a scan must have. */
  views: z.record(viewName, viewModelSpec),
  requiredViews: z.array(viewName),
  optionalViews: z.array(viewName),
  fusion: fusionSpec,
  covariates: z.array(z.object({ name: z.string().min(1), unit: z.string().min(1) })).min(1),
  plausibleRangeMl: z.tuple([z.number().positive(), z.number().positive()]),
  provenance: provenanceSpec,
  testVector: testVectorSpec,
  /** Absent in bundles that need nothing beyond the contract. */
  requires: requiresSpec.optional(),
});

export type ModelManifest = z.infer<typeof manifestObject>;
export type ViewModelSpec = z.infer<typeof viewModelSpec>;
export type ViewInputSpec = z.infer<typeof viewInputSpec>;
export type TensorSpec = z.infer<typeof tensorSpec>;
export type ManifestRequirements = z.infer<typeof requiresSpec>;

type Context = z.core.$RefinementCtx<ModelManifest>;

/** Adds a custom issue; `expectation` completes the sentence "expected …". */
function addIssue(
  context: Context,
  path: (string | number)[],
  input: unknown,
  expectation: string,
): void {
  context.addIssue({ code: 'custom', path, input, message: `expected ${expectation}` });
}

function checkViewLists(manifest: ModelManifest, context: Context): void {
  const listed = [...manifest.requiredViews, ...manifest.optionalViews];
  listed.forEach((view, i) => {
    if (listed.indexOf(view) !== i) {
      addIssue(
        context,
        ['optionalViews'],
        view,
        'each view at most once in requiredViews and optionalViews',
      );
    }
    if (!manifest.fusion.viewOrder.includes(view)) {
      addIssue(
        context,
        ['fusion', 'viewOrder'],
        manifest.fusion.viewOrder,
        `an entry for view ${view}`,
      );
    }
  });
  for (const view of VIEW_NAMES) {
    if (!listed.includes(view)) {
      addIssue(
        context,
        ['optionalViews'],
        manifest.optionalViews,
        `view ${view} in requiredViews or optionalViews`,
      );
    }
  }
  if (manifest.requiredViews.length === 0) {
    addIssue(context, ['requiredViews'], manifest.requiredViews, 'at least one required view');
  }
}

function featureCount(manifest: ModelManifest, context: Context): number | undefined {
  const counts = new Set(
    Object.values(manifest.views).map((view) => view.output.featureNames.length),
  );
  if (counts.size > 1) {
    addIssue(context, ['views'], [...counts], 'the same number of features from every view model');
  }
  return counts.size === 1 ? [...counts][0] : undefined;
}

function checkTensor(
  context: Context,
  path: (string | number)[],
  tensors: readonly TensorSpec[],
  name: string,
  expectedShape: readonly number[],
): void {
  const index = tensors.findIndex((tensor) => tensor.name === name);
  if (index < 0) {
    addIssue(
      context,
      path,
      tensors.map((tensor) => tensor.name),
      `a tensor named ${name}`,
    );
    return;
  }
  const found = tensors[index]!.shape;
  if (found.join(',') !== expectedShape.join(',')) {
    addIssue(
      context,
      [...path, index, 'shape'],
      found,
      `shape [${expectedShape.join(', ')}] for ${name}`,
    );
  }
}

function checkFusionTensors(manifest: ModelManifest, context: Context): void {
  const features = featureCount(manifest, context);
  const viewCount = manifest.fusion.viewOrder.length;
  const { inputs, outputs } = manifest.fusion;
  const names = FUSION_INPUT_NAMES;
  if (features !== undefined) {
    checkTensor(context, ['fusion', 'inputs'], inputs, names.viewFeatures, [
      1,
      viewCount,
      features,
    ]);
  }
  checkTensor(context, ['fusion', 'inputs'], inputs, names.viewMask, [1, viewCount]);
  checkTensor(context, ['fusion', 'inputs'], inputs, names.covariates, [
    1,
    manifest.covariates.length,
  ]);
  for (const name of REQUIRED_FUSION_OUTPUTS) {
    checkTensor(context, ['fusion', 'outputs'], outputs, name, [1, 1]);
    const index = outputs.findIndex((output) => output.name === name);
    if (index >= 0 && outputs[index]!.unit !== 'mL') {
      addIssue(
        context,
        ['fusion', 'outputs', index, 'unit'],
        outputs[index]!.unit,
        `unit mL for ${name}`,
      );
    }
  }

  const covariateNames = manifest.covariates.map((covariate) => covariate.name);
  if (covariateNames.join(',') !== COVARIATE_NAMES.join(',')) {
    const expected = `the covariates [${COVARIATE_NAMES.join(', ')}]`;
    addIssue(context, ['covariates'], covariateNames, expected);
  }
  const [min, max] = manifest.plausibleRangeMl;
  if (!(min < max)) addIssue(context, ['plausibleRangeMl'], manifest.plausibleRangeMl, 'min < max');
}

/** Schema of manifest.json in a model bundle, with the checks that span several fields. */
export const modelManifestSchema = manifestObject.superRefine((manifest, context) => {
  checkViewLists(manifest, context);
  checkFusionTensors(manifest, context);
});

export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Formats a zod error as one line per issue: field, found value and expectation. */
export function describeIssues(error: z.ZodError, raw: unknown): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.map(String).join('.') || '(root)';
      return `field ${field}: found ${describeFound(valueAt(raw, issue.path))}; ${issue.message}`;
    })
    .join('; ');
}

/**
 * Parses and validates a manifest; `source` names the file in error messages. Throws
 * BvEdgeError `manifest_invalid` naming each offending field.
 */
export function parseManifest(raw: unknown, source: string): ModelManifest {
  const result = modelManifestSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new BvEdgeError(
    'manifest_invalid',
    `Invalid model manifest ${source}: ${describeIssues(result.error, raw)}. Rebuild the bundle with npm run build:models.`,
    { value: result.error.issues },
  );
}
