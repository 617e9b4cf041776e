import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { pino } from 'pino';
import { buildReferenceBundle } from '../scripts/build-models.ts';
import { nadlerBloodVolumeMl } from '../src/clinical/nadler.ts';
import { BvEdgeError } from '../src/core/errors.ts';
import { VIEW_NAMES, type GrayFrame, type ViewName } from '../src/core/image.ts';
import { silentLogger, type Logger } from '../src/core/log.ts';
import { loadBundle, sha256Hex, type ModelBundle } from '../src/inference/bundle.ts';
import { InferenceEngine } from '../src/inference/engine.ts';
import { logEngineBuild, modelLoadSpecs, onnxruntimeVersion } from '../src/inference/load.ts';
import { parseManifest, type ViewInputSpec } from '../src/inference/manifest.ts';
import { cropAndResample, selectFrames } from '../src/inference/preprocess.ts';
import {
  loadTestVector,
  runTestVector,
  testVectorClip,
  type TestVector,
} from '../src/inference/test-vector.ts';
import { detectGpuName, engineCachePath } from '../src/inference/tensorrt.ts';
import { generatePhantomClip, type PhantomClip } from '../src/phantom/clip.ts';
import { checkScanPopulation, estimateFromViews } from '../src/scan/scan.ts';
import { buildSmallBundle, SMALL_FEATURE_NAMES } from './fixtures/small-bundle.ts';
import { measuredView } from './helpers/view-result.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const referenceDir = join(repoRoot, 'models', 'reference');

const tempDirs: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bv-edge-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Asserts that `promise` rejects with a BvEdgeError of `code` whose message contains `parts`. */
async function assertRejectsWith(
  promise: Promise<unknown>,
  code: string,
  parts: string[],
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof BvEdgeError, `expected a BvEdgeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const part of parts)
      assert.ok(error.message.includes(part), `message lacks "${part}": ${error.message}`);
    return true;
  });
}

function capturedLogger(): {
  logger: Logger;
  records: () => Record<string, unknown>[];
} {
  const lines: string[] = [];
  const destination = { write: (line: string): void => void lines.push(line) };
  const logger: Logger = pino({ level: 'debug', base: undefined }, destination);
  return {
    logger,
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** Per-view fusion inputs of the test vector. */
function vectorFeatures(vector: TestVector): Partial<Record<ViewName, Float32Array>> {
  const features: Partial<Record<ViewName, Float32Array>> = {};
  for (const [view, values] of Object.entries(vector.fusion.viewFeatures)) {
    features[view as ViewName] = Float32Array.from(values);
  }
  return features;
}

/** Crops a phantom clip the way the scan does, sized from the truth. */
function phantomCrop(clip: PhantomClip, spec: ViewInputSpec): Float32Array {
  const side = spec.cropScale * clip.truth.equivalentDiameterMaxPx;
  return cropAndResample(clip.frames, clip.timestampsS, clip.truth.centre, side, spec).tensor;
}

describe('reference bundle build', () => {
  test('two builds are byte-identical', async () => {
    const options = { cohortSize: 24, logger: silentLogger() };
    const first = await buildReferenceBundle(tempDir('build-a'), options);
    const second = await buildReferenceBundle(tempDir('build-b'), options);
    assert.deepEqual(second.sha256, first.sha256);
    assert.deepEqual(Object.keys(first.sha256).sort(), [
      'fusion.onnx',
      'manifest.json',
      'test-vector.json',
      'view-ca.onnx',
      'view-ijv.onnx',
      'view-ivc.onnx',
      'view-scv.onnx',
    ]);
    // View models do not depend on the cohort, so they must equal the shipped ones.
    const shipped = parseManifest(
      JSON.parse(readFileSync(join(referenceDir, 'manifest.json'), 'utf8')),
      'shipped',
    );
    for (const view of VIEW_NAMES) {
      assert.equal(
        first.sha256[`view-${view}.onnx`],
        shipped.views[view].sha256,
        `view-${view}.onnx is stale`,
      );
    }
  });

  test('models are ONNX IR 8, opset 17', () => {
    for (const file of ['view-ijv.onnx', 'fusion.onnx']) {
      const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(referenceDir, file)));
      assert.equal(Number(model.irVersion), 8, file);
      assert.deepEqual(
        model.opsetImport.map((opset) => [opset.domain, Number(opset.version)]),
        [['', 17]],
        file,
      );
    }
  });
});

describe('loadBundle', () => {
  test('shipped bundle verifies', async () => {
    const bundle = await loadBundle(referenceDir);
    const { manifest } = bundle;
    assert.equal(manifest.name, 'bv-edge-reference');
    assert.equal(manifest.version, '0.1.0');
    assert.equal(manifest.intendedUse, 'reference');
    assert.equal(
      manifest.notice,
      'Reference model fitted on synthetic phantom data. Not for clinical use.',
    );
    assert.deepEqual(manifest.requiredViews, ['ijv', 'scv', 'ivc', 'ca']);
    assert.equal(manifest.provenance.cohortSize, 300);
    const { cvRmseMl } = manifest.provenance;
    assert.ok(cvRmseMl > 0, `cvRmseMl ${cvRmseMl}`);
    assert.ok(cvRmseMl < 1000, `cvRmseMl ${cvRmseMl}`);
    for (const view of VIEW_NAMES) {
      assert.equal(sha256Hex(bundle.viewModels[view]), manifest.views[view].sha256, view);
    }
    assert.equal(sha256Hex(bundle.fusionModel), manifest.fusion.sha256);
  });

  test('tampered model is rejected', async () => {
    const dir = tempDir('tampered');
    cpSync(referenceDir, dir, { recursive: true });
    const path = join(dir, 'view-ivc.onnx');
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(path, bytes);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
      views: Record<ViewName, { sha256: string }>;
    };
    await assertRejectsWith(loadBundle(dir), 'model_checksum_mismatch', [
      path,
      'views.ivc.sha256',
      sha256Hex(bytes),
      manifest.views.ivc.sha256,
    ]);
  });

  test('missing model file is rejected', async () => {
    const dir = tempDir('missing');
    cpSync(referenceDir, dir, { recursive: true });
    writeFileSync(
      join(dir, 'manifest.json'),
      readFileSync(join(dir, 'manifest.json'), 'utf8').replace('fusion.onnx', 'absent.onnx'),
    );
    await assertRejectsWith(loadBundle(dir), 'model_file_missing', [
      join(dir, 'absent.onnx'),
      'fusion',
    ]);
  });

  test('invalid manifest names the field', async () => {
    const dir = tempDir('invalid');
    cpSync(referenceDir, dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    manifest.intendedUse = 'marketing';
    (manifest.views as Record<string, { input: { frames: number } }>).ca!.input.frames = 31;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    await assertRejectsWith(loadBundle(dir), 'manifest_invalid', [
      join(dir, 'manifest.json'),
      'field intendedUse: found "marketing"',
      'field views.ca.input.shape',
    ]);
  });

  test('absent bundle directory is rejected', async () => {
    await assertRejectsWith(loadBundle(join(tempDir('empty'), 'none')), 'model_bundle_not_found', [
      'manifest.json',
    ]);
  });
});

describe('InferenceEngine', () => {
  let bundle: ModelBundle;
  let engine: InferenceEngine;
  let logRecords: () => Record<string, unknown>[];

  before(async () => {
    bundle = await loadBundle(referenceDir);
    const captured = capturedLogger();
    logRecords = captured.records;
    engine = await InferenceEngine.create(bundle, {
      providers: ['tensorrt', 'cuda', 'cpu'],
      logger: captured.logger,
    });
  });

  after(async () => {
    await engine.close();
  });

  test('falls back to cpu with reasons', () => {
    assert.equal(engine.executionProvider, 'cpu');
    const warnings = logRecords().filter(
      (record) => record.level === 40 && String(record.msg).startsWith('execution provider'),
    );
    assert.deepEqual(
      warnings.map((record) => record.provider),
      ['tensorrt', 'cuda'],
    );
    for (const warning of warnings) {
      assert.equal(typeof warning.reason, 'string');
      assert.ok((warning.reason as string).length > 0, 'reason is empty');
    }
  });

  /** Lumen area per model frame over the area of the disc inscribed in the crop. */
  function truthFractions(clip: PhantomClip, spec: ViewInputSpec): number[] {
    const side = spec.cropScale * clip.truth.equivalentDiameterMaxPx;
    const disc = (Math.PI / 4) * side * side;
    const { frameIndices } = selectFrames(clip.timestampsS, spec.frames, spec.rateHz);
    return frameIndices.map((i) => clip.truth.areaSeriesPx[i]! / disc);
  }

  test('runView lumen fraction tracks the truth', async () => {
    const spec = bundle.manifest.views.ivc.input;
    const names = bundle.manifest.views.ivc.output.featureNames;
    const ratios: number[] = [];
    for (const volumeState of [0.8, 1.1]) {
      const clip = generatePhantomClip({
        view: 'ivc',
        volumeState,
        seconds: 4,
        fps: 30,
        width: 320,
        height: 240,
        seed: 11,
      });
      const features = await engine.runView('ivc', phantomCrop(clip, spec));
      assert.equal(features.length, names.length);
      assert.ok(
        features.every(Number.isFinite),
        `non-finite features ${Array.from(features).join(', ')}`,
      );

      const fractions = truthFractions(clip, spec);
      const truthMean = fractions.reduce((sum, f) => sum + f, 0) / fractions.length;
      const truthCollapse = 1 - Math.min(...fractions) / Math.max(...fractions);
      const collapse = features[names.indexOf('lumen_area_collapsibility')]!;
      ratios.push(features[names.indexOf('lumen_fraction_mean')]! / truthMean);
      assert.ok(
        Math.abs(collapse - truthCollapse) < 0.1,
        `volume state ${volumeState}: area collapsibility ${collapse}, truth ${truthCollapse}`,
      );
    }
    // The soft threshold lies below the mid-grey of the lumen edge, so the fraction reads low by
    // a fixed share. What matters is that the share is the same for every clip.
    for (const ratio of ratios) {
      assert.ok(ratio > 0.65, `ratios ${ratios}`);
      assert.ok(ratio < 1.05, `ratios ${ratios}`);
    }
    assert.ok(Math.abs(ratios[0]! - ratios[1]!) < 0.05, `ratios ${ratios}`);
  });

  test('runView collapsibility follows volume state', async () => {
    const spec = bundle.manifest.views.ivc.input;
    const options = {
      view: 'ivc' as const,
      seconds: 3.2,
      fps: 10,
      width: 160,
      height: 120,
      seed: 5,
    };
    const low = await engine.runView(
      'ivc',
      phantomCrop(generatePhantomClip({ ...options, volumeState: 0.75 }), spec),
    );
    const high = await engine.runView(
      'ivc',
      phantomCrop(generatePhantomClip({ ...options, volumeState: 1.15 }), spec),
    );
    const index = bundle.manifest.views.ivc.output.featureNames.indexOf(
      'lumen_area_collapsibility',
    );
    assert.ok(low[index]! > high[index]! + 0.1, `low ${low[index]}, high ${high[index]}`);
  });

  test('runView rejects a wrong-size clip', async () => {
    await assertRejectsWith(engine.runView('ijv', new Float32Array(10)), 'view_input_invalid', [
      '131072',
      'got 10',
    ]);
  });

  test('runView rejects non-finite input', async () => {
    const clip = new Float32Array(32 * 64 * 64).fill(0.5);
    clip[7] = Number.NaN;
    await assertRejectsWith(engine.runView('ca', clip), 'view_input_invalid', ['index 7']);
  });

  test('test vector reproduces', async () => {
    const vector = await loadTestVector(bundle);
    const { tolerance } = bundle.manifest.testVector;
    const within = (found: number, expected: number): boolean =>
      Math.abs(found - expected) <= tolerance.absolute + tolerance.relative * Math.abs(expected);
    for (const view of VIEW_NAMES) {
      const features = await engine.runView(
        view,
        testVectorClip(vector, view, bundle.manifest.views[view].input),
      );
      vector.views[view].expectedFeatures.forEach((expected, i) => {
        assert.ok(
          within(features[i]!, expected),
          `${view} feature ${i}: ${features[i]} vs ${expected}`,
        );
      });
    }

    const features = vectorFeatures(vector);
    const fused = await engine.runFusion(features, Float32Array.from(vector.fusion.covariates));
    const { expected } = vector.fusion;
    assert.ok(within(fused.bvMl, expected.bvMl), `bv ${fused.bvMl} vs ${expected.bvMl}`);
    assert.ok(
      within(fused.lowerMl, expected.lowerMl),
      `lower ${fused.lowerMl} vs ${expected.lowerMl}`,
    );
    assert.ok(
      within(fused.upperMl, expected.upperMl),
      `upper ${fused.upperMl} vs ${expected.upperMl}`,
    );
    assert.ok(fused.lowerMl < fused.bvMl, `lower ${fused.lowerMl}, bv ${fused.bvMl}`);
    assert.ok(fused.bvMl < fused.upperMl, `bv ${fused.bvMl}, upper ${fused.upperMl}`);

    const report = await runTestVector(engine, vector);
    assert.deepEqual(report.mismatches, []);
  });

  test('runFusion rejects NaN covariates', async () => {
    const vector = await loadTestVector(bundle);
    const features = vectorFeatures(vector);
    const covariates = Float32Array.from(vector.fusion.covariates);
    covariates[0] = Number.NaN;
    await assertRejectsWith(engine.runFusion(features, covariates), 'covariates_invalid', [
      'height_cm',
      'NaN',
    ]);
    const noNadler = Float32Array.from(vector.fusion.covariates);
    noNadler[4] = Number.POSITIVE_INFINITY;
    await assertRejectsWith(engine.runFusion(features, noNadler), 'covariates_invalid', [
      'nadler_ml',
    ]);
  });

  test('runFusion rejects a missing view', async () => {
    const vector = await loadTestVector(bundle);
    const features: Partial<Record<ViewName, Float32Array>> = {};
    for (const view of ['ijv', 'scv', 'ca'] as const)
      features[view] = Float32Array.from(vector.fusion.viewFeatures[view]!);
    await assertRejectsWith(
      engine.runFusion(features, Float32Array.from(vector.fusion.covariates)),
      'views_missing',
      ['Missing required view ivc'],
    );
  });

  test('runFusion rejects an implausible estimate', async () => {
    const vector = await loadTestVector(bundle);
    const features = vectorFeatures(vector);
    const covariates = Float32Array.from(vector.fusion.covariates);
    covariates[4] = 60_000;
    await assertRejectsWith(engine.runFusion(features, covariates), 'estimate_out_of_range', [
      'plausible range 1000–15000 mL',
    ]);
    const rejected = logRecords().filter((record) => record.code === 'estimate_out_of_range');
    assert.equal(rejected.length, 1, 'expected one logged rejection');
    assert.equal(rejected[0]!.level, 40);
    assert.match(String(rejected[0]!.msg), /^model output rejected: Estimated blood volume/);
  });

  test('reports the provider per model', () => {
    assert.deepEqual(engine.providers, {
      ijv: 'cpu',
      scv: 'cpu',
      ivc: 'cpu',
      ca: 'cpu',
      fusion: 'cpu',
    });
    assert.deepEqual(
      engine.models.map((model) => model.key),
      ['ijv', 'scv', 'ivc', 'ca', 'fusion'],
    );
    for (const model of engine.models) {
      assert.ok(model.createMs > 0, `${model.key} createMs ${model.createMs}`);
      assert.ok(model.warmUpMs > 0, `${model.key} warmUpMs ${model.warmUpMs}`);
    }
  });

  test('runFusion clips far-off features', async () => {
    const vector = await loadTestVector(bundle);
    const features = vectorFeatures(vector);
    features.ivc = new Float32Array(features.ivc!.length).fill(0.9);
    const fused = await engine.runFusion(features, Float32Array.from(vector.fusion.covariates));
    assert.ok(fused.maxAbsZ! > 3, `maxAbsZ ${fused.maxAbsZ}`);
    const [min, max] = bundle.manifest.plausibleRangeMl;
    assert.ok(fused.bvMl > min, `bv ${fused.bvMl}`);
    assert.ok(fused.bvMl < max, `bv ${fused.bvMl}`);
    const clipped = logRecords().filter((record) => String(record.msg).includes('clipped'));
    assert.equal(clipped.length, 1);
  });

  test('estimate flags clipped features', async () => {
    const vector = await loadTestVector(bundle);
    const views = Object.entries(vectorFeatures(vector)).map(([view, features]) =>
      measuredView(view as ViewName, { features: Array.from(features) }),
    );
    const covariates = { heightCm: 175, weightKg: 70, sex: 'male', ageYears: 52 } as const;
    const typical = await estimateFromViews(views, covariates, 13, engine);
    assert.deepEqual(typical.population, { inPopulation: true, reasons: [] });
    assert.ok(typical.maxAbsZ! <= 3, `test vector maxAbsZ ${typical.maxAbsZ}`);

    const ivc = views.find((view) => view.view === 'ivc')!;
    ivc.features = ivc.features.map(() => 0.9);
    const far = await estimateFromViews(views, covariates, 13, engine);
    assert.equal(far.population.inPopulation, false);
    assert.equal(far.population.reasons.length, 1);
    const reason = far.population.reasons[0]!;
    assert.match(
      reason.text,
      /^view features outside the training cohort \(largest \|z\| \d+(\.\d)?, limit 3\): the model extrapolates$/,
    );
    assert.ok(far.maxAbsZ! > 3, `maxAbsZ ${far.maxAbsZ}`);
    assert.equal(reason.key, 'notice.population.featuresOutside');
    assert.deepEqual(reason.params, { value: Math.round(far.maxAbsZ! * 10) / 10, limit: 3 });
  });

  test('feature range reason values', () => {
    const covariates = { heightCm: 175, weightKg: 70, sex: 'male', ageYears: 52 } as const;
    const rounded = checkScanPopulation(covariates, 13, { maxAbsZ: 4.04, zScoreLimit: 3 });
    assert.deepEqual(rounded.reasons, [
      {
        key: 'notice.population.featuresOutside',
        params: { value: 4, limit: 3 },
        text:
          'view features outside the training cohort (largest |z| 4, limit 3): the model ' +
          'extrapolates',
      },
    ]);
    // A non-finite |z| is text, because JSON would store NaN as null.
    const invalid = checkScanPopulation(covariates, 13, { maxAbsZ: Number.NaN, zScoreLimit: 3 });
    assert.deepEqual(invalid.reasons[0]?.params, { value: 'NaN', limit: 3 });
    const inside = checkScanPopulation(covariates, 13, { maxAbsZ: 3, zScoreLimit: 3 });
    assert.deepEqual(inside, { inPopulation: true, reasons: [] });
  });
});

test('closed engine rejects calls', async () => {
  const engine = await InferenceEngine.create(await loadBundle(referenceDir), {
    logger: silentLogger(),
  });
  await engine.close();
  await engine.close();
  await assertRejectsWith(engine.runView('ijv', new Float32Array(32 * 64 * 64)), 'engine_closed', [
    'closed',
  ]);
});

test('unknown provider is rejected', async () => {
  const bundle = await loadBundle(referenceDir);
  const providers = ['npu'] as unknown as ['cpu'];
  await assertRejectsWith(
    InferenceEngine.create(bundle, { providers, logger: silentLogger() }),
    'execution_provider_invalid',
    ['npu'],
  );
});

describe('second bundle', () => {
  let engine: InferenceEngine;
  let bundle: ModelBundle;
  let vector: TestVector;

  before(async () => {
    const dir = tempDir('small');
    await buildSmallBundle(dir);
    bundle = await loadBundle(dir);
    vector = await loadTestVector(bundle);
    engine = await InferenceEngine.create(bundle, { providers: ['cpu'], logger: silentLogger() });
  });

  after(async () => {
    await engine.close();
  });

  test('loads with 3 features per view', async () => {
    assert.deepEqual(bundle.manifest.views.ijv.output.featureNames, SMALL_FEATURE_NAMES);
    const clip = testVectorClip(vector, 'ijv', bundle.manifest.views.ijv.input);
    assert.equal(clip.length, 8 * 16 * 16);
    const features = await engine.runView('ijv', clip);
    assert.equal(features.length, 3);
    const report = await runTestVector(engine, vector);
    assert.deepEqual(report.mismatches, []);
  });

  test('masks the optional view', async () => {
    const features = vectorFeatures(vector);
    assert.equal(features.scv, undefined, 'the small test vector leaves scv out');
    const covariates = Float32Array.from(vector.fusion.covariates);
    const without = await engine.runFusion(features, covariates);
    // With scv present, its features (mean grey level near 0.4) move the estimate.
    features.scv = Float32Array.from(vector.views.scv.expectedFeatures);
    const withScv = await engine.runFusion(features, covariates);
    assert.ok(Math.abs(withScv.bvMl - without.bvMl) > 1, `${withScv.bvMl} vs ${without.bvMl}`);
  });

  test('refuses missing required views', async () => {
    const features = vectorFeatures(vector);
    delete features.ivc;
    delete features.ca;
    await assertRejectsWith(
      engine.runFusion(features, Float32Array.from(vector.fusion.covariates)),
      'views_missing',
      ['Missing required views ivc, ca', 'requires ijv, ivc, ca'],
    );
  });
});

test('main thread runs during a model run', async () => {
  const dir = tempDir('slow');
  await buildSmallBundle(dir, { slowView: 'ivc' });
  const bundle = await loadBundle(dir);
  const engine = await InferenceEngine.create(bundle, { logger: silentLogger() });
  try {
    const vector = await loadTestVector(bundle);
    const clip = testVectorClip(vector, 'ivc', bundle.manifest.views.ivc.input);
    let turns = 0;
    let running = true;
    const turn = (): void => {
      turns += 1;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    const features = await engine.runView('ivc', clip);
    running = false;
    assert.deepEqual(Array.from(features), vector.views.ivc.expectedFeatures.map(Math.fround));
    // onnxruntime-node runs a model synchronously on the calling thread, so with the session on
    // the main thread the event loop would not turn until the run ends.
    assert.ok(turns >= 10, `the event loop turned ${turns} times during one slow view run`);
  } finally {
    await engine.close();
  }
});

describe('non-finite outputs', () => {
  test('NaN features are rejected and logged', async () => {
    const dir = tempDir('nan-view');
    await buildSmallBundle(dir, { nanView: 'ca' });
    const bundle = await loadBundle(dir);
    const captured = capturedLogger();
    const engine = await InferenceEngine.create(bundle, { logger: captured.logger });
    try {
      const vector = await loadTestVector(bundle);
      const clip = testVectorClip(vector, 'ca', bundle.manifest.views.ca.input);
      await assertRejectsWith(engine.runView('ca', clip), 'model_output_invalid', [
        'small-ca.onnx',
        'non-finite intensity_mean (NaN)',
      ]);
    } finally {
      await engine.close();
    }
    const rejected = captured.records().filter((record) => record.code === 'model_output_invalid');
    assert.equal(rejected.length, 1, 'expected one logged rejection');
    assert.equal(rejected[0]!.view, 'ca');
  });

  test('NaN estimate is rejected and logged', async () => {
    const dir = tempDir('nan-fusion');
    await buildSmallBundle(dir, { nanFusion: true });
    const bundle = await loadBundle(dir);
    const captured = capturedLogger();
    const engine = await InferenceEngine.create(bundle, { logger: captured.logger });
    try {
      const vector = await loadTestVector(bundle);
      await assertRejectsWith(
        engine.runFusion(vectorFeatures(vector), Float32Array.from(vector.fusion.covariates)),
        'estimate_invalid',
        ['invalid estimate NaN mL'],
      );
    } finally {
      await engine.close();
    }
    const rejected = captured.records().filter((record) => record.code === 'estimate_invalid');
    assert.equal(rejected.length, 1, 'expected one logged rejection');
    assert.equal(rejected[0]!.level, 40);
  });
});

describe('TensorRT settings', () => {
  const sha = 'a'.repeat(64);

  test('cache folder keys on model, runtime, GPU', () => {
    const path = engineCachePath('/cache', sha, '1.31.1', 'NVIDIA Jetson AGX Orin');
    assert.equal(path, `/cache/${sha}_ort-1.31.1_nvidia-jetson-agx-orin`);
    const others = [
      engineCachePath('/cache', 'b'.repeat(64), '1.31.1', 'NVIDIA Jetson AGX Orin'),
      engineCachePath('/cache', sha, '1.32.0', 'NVIDIA Jetson AGX Orin'),
      engineCachePath('/cache', sha, '1.31.1', 'NVIDIA H200'),
    ];
    for (const other of others) assert.notEqual(other, path);
    assert.equal(engineCachePath('/c', sha, '1.31.1', '***'), `/c/${sha}_ort-1.31.1_unknown-gpu`);
  });

  test('GPU name falls back to unknown-gpu', async () => {
    const name = await detectGpuName(0);
    assert.equal(typeof name, 'string');
    assert.ok(name.length > 0, 'GPU name is empty');
    if (!existsSync('/proc/driver/nvidia/gpus') && !existsSync('/proc/device-tree/model')) {
      // nvidia-smi may still report a name where the driver is installed.
      assert.ok(name === 'unknown-gpu' || /nvidia/i.test(name), `GPU name ${name}`);
    }
  });

  test('logs before a first engine build', () => {
    const cachePath = tempDir('trt-cache');
    const spec = {
      key: 'ijv' as const,
      file: 'view-ijv.onnx',
      bytes: new Uint8Array(),
      inputs: [],
      tensorrt: { deviceId: 0, fp16: false, engineCachePath: cachePath },
    };
    const event = {
      type: 'session-starting' as const,
      key: 'ijv' as const,
      file: 'view-ijv.onnx',
      provider: 'tensorrt' as const,
    };
    const captured = capturedLogger();
    logEngineBuild(event, [spec], captured.logger);
    logEngineBuild({ ...event, provider: 'cpu' }, [spec], captured.logger);
    writeFileSync(join(cachePath, 'TensorrtExecutionProvider_sm90.engine'), 'engine');
    logEngineBuild(event, [spec], captured.logger);
    const records = captured.records();
    assert.equal(records.length, 2, JSON.stringify(records));
    assert.equal(records[0]!.level, 40);
    assert.match(
      String(records[0]!.msg),
      /^building the TensorRT engine for view-ijv\.onnx; the first build can take several minutes on a Jetson$/,
    );
    assert.equal(records[1]!.msg, 'loading cached TensorRT engine');
  });

  test('cache folders per model', async () => {
    const bundle = await loadBundle(referenceDir);
    const root = tempDir('trt-root');
    const specs = await modelLoadSpecs(bundle, ['tensorrt', 'cpu'], {
      engineCacheDir: root,
      fp16: true,
    });
    const gpu = await detectGpuName(0);
    assert.deepEqual(
      specs.map((spec) => spec.file),
      ['view-ijv.onnx', 'view-scv.onnx', 'view-ivc.onnx', 'view-ca.onnx', 'fusion.onnx'],
    );
    for (const spec of specs) {
      const sha256 =
        spec.key === 'fusion'
          ? bundle.manifest.fusion.sha256
          : bundle.manifest.views[spec.key].sha256;
      const expected = engineCachePath(root, sha256, onnxruntimeVersion(), gpu);
      assert.equal(spec.tensorrt.engineCachePath, expected);
      assert.ok(existsSync(expected), `${expected} was not created`);
      assert.equal(spec.tensorrt.fp16, true);
    }
    const withoutTensorRt = await modelLoadSpecs(bundle, ['cpu'], { engineCacheDir: root });
    for (const spec of withoutTensorRt) assert.equal(spec.tensorrt.engineCachePath, null);
  });

  test('unwritable cache folder is rejected', async () => {
    const file = join(tempDir('trt-file'), 'not-a-folder');
    writeFileSync(file, 'x');
    await assertRejectsWith(
      modelLoadSpecs(await loadBundle(referenceDir), ['tensorrt'], { engineCacheDir: file }),
      'tensorrt_cache_invalid',
      [file, 'writable path'],
    );
  });

  test('tensorrt options still fall back to cpu', async () => {
    const captured = capturedLogger();
    const engine = await InferenceEngine.create(await loadBundle(referenceDir), {
      providers: ['tensorrt', 'cpu'],
      tensorrt: { fp16: true, engineCacheDir: tempDir('trt') },
      logger: captured.logger,
    });
    await engine.close();
    assert.equal(engine.executionProvider, 'cpu');
    const skipped = captured.records().filter((record) => record.provider === 'tensorrt');
    assert.equal(skipped.length, 1, JSON.stringify(skipped));
    assert.match(String(skipped[0]!.reason), /libonnxruntime_providers_tensorrt\.so/);
  });
});

describe('cropAndResample', () => {
  const spec: ViewInputSpec = {
    name: 'clip',
    dtype: 'float32',
    shape: [1, 4, 2, 2],
    layout: 'NTHW',
    pixelFormat: 'gray8',
    frames: 4,
    rateHz: 10,
    width: 2,
    height: 2,
    normalisation: { subtract: 0, divide: 255 },
    cropScale: 2.5,
    resampling: 'bilinear',
  };
  /** Frames whose every pixel equals the frame index, 30 fps. */
  const frames = (count: number): { frames: GrayFrame[]; timestampsS: number[] } => ({
    frames: Array.from({ length: count }, (_, i) => ({
      width: 8,
      height: 8,
      channels: 1,
      data: new Uint8Array(64).fill(i),
    })),
    timestampsS: Array.from({ length: count }, (_, i) => i / 30),
  });

  test('picks frames at the model rate', () => {
    const clip = frames(12);
    const result = cropAndResample(clip.frames, clip.timestampsS, { x: 4, y: 4 }, 4, spec);
    assert.deepEqual(result.frameIndices, [0, 3, 6, 9]);
    assert.equal(result.shortClip, false);
    assert.deepEqual(
      Array.from(result.tensor.subarray(4, 8)),
      [3 / 255, 3 / 255, 3 / 255, 3 / 255].map(Math.fround),
    );
  });

  test('holds the last frame of a short clip', () => {
    const clip = frames(5);
    const result = cropAndResample(clip.frames, clip.timestampsS, { x: 4, y: 4 }, 4, spec);
    assert.deepEqual(result.frameIndices, [0, 3, 4, 4]);
    assert.equal(result.shortClip, true);
  });

  test('resamples bilinearly and repeats edges', () => {
    const data = Uint8Array.from({ length: 64 }, (_, i) => (i % 8) * 10);
    const frame: GrayFrame = { width: 8, height: 8, channels: 1, data };
    const single = { ...spec, frames: 1, shape: [1, 1, 2, 2] };
    // Side 4 around x = 4: output centres at x = 3 and 5, i.e. pixel centres 2.5 and 4.5.
    const inside = cropAndResample([frame], [0], { x: 4, y: 4 }, 4, single).tensor;
    assert.deepEqual(
      Array.from(inside, (v) => Math.round(v * 255)),
      [25, 45, 25, 45],
    );
    // Centred on the left edge, the left half falls outside the frame and repeats column 0.
    const edge = cropAndResample([frame], [0], { x: 0, y: 4 }, 4, single).tensor;
    assert.deepEqual(
      Array.from(edge, (v) => Math.round(v * 255)),
      [0, 5, 0, 5],
    );
  });

  test('writes rgb24 as NTHWC', () => {
    const rgbSpec: ViewInputSpec = {
      ...spec,
      frames: 1,
      shape: [1, 1, 2, 2, 3],
      layout: 'NTHWC',
      pixelFormat: 'rgb24',
    };
    const frame: GrayFrame = {
      width: 2,
      height: 2,
      channels: 1,
      data: Uint8Array.from([0, 51, 102, 153]),
    };
    const { tensor } = cropAndResample([frame], [0], { x: 1, y: 1 }, 2, rgbSpec);
    assert.equal(tensor.length, 12);
    assert.deepEqual(
      Array.from(tensor, (v) => Math.round(v * 255)),
      [0, 0, 0, 51, 51, 51, 102, 102, 102, 153, 153, 153],
    );
  });

  test('rejects mismatched timestamps', () => {
    const clip = frames(3);
    assert.throws(
      () => cropAndResample(clip.frames, [0, 0.1], { x: 4, y: 4 }, 4, spec),
      (error: unknown) => error instanceof BvEdgeError && error.code === 'preprocess_invalid_input',
    );
  });
});

describe('nadlerBloodVolumeMl', () => {
  test('matches the published formula', () => {
    // Male: 0.3669 · 1.8³ + 0.03219 · 80 + 0.6041 = 5.3190608 L.
    const male = nadlerBloodVolumeMl({ heightCm: 180, weightKg: 80, sex: 'male' });
    assert.ok(Math.abs(male - 5319.0608) < 1e-6, `male ${male} mL`);
    // Female: 0.3561 · 1.65³ + 0.03308 · 62 + 0.1833 = 3.8339057 L.
    const female = nadlerBloodVolumeMl({ heightCm: 165, weightKg: 62, sex: 'female' });
    assert.ok(Math.abs(female - 3833.9057) < 1e-3, `female ${female} mL`);
  });

  test('rejects invalid covariates', () => {
    const isInvalid = (error: unknown): boolean =>
      error instanceof BvEdgeError && error.code === 'covariate_invalid';
    assert.throws(
      () => nadlerBloodVolumeMl({ heightCm: Number.NaN, weightKg: 70, sex: 'male' }),
      isInvalid,
    );
    assert.throws(
      () => nadlerBloodVolumeMl({ heightCm: 170, weightKg: -1, sex: 'female' }),
      isInvalid,
    );
  });
});
