import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { silentLogger } from '../src/core/log.ts';
import { sha256Hex } from '../src/inference/bundle.ts';
import { validateBundle, type ValidationReport } from '../src/inference/validate.ts';
import { formatViolation } from '../src/inference/violation.ts';
import { buildSmallBundle } from './fixtures/small-bundle.ts';

const { onnx } = onnxProto;
const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const referenceDir = join(repoRoot, 'models', 'reference');
const cliEntry = join(repoRoot, 'tests', 'fixtures', 'model-cli.ts');

const tempDirs: string[] = [];

after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bv-edge-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

/** Copies the reference bundle into a temporary folder for one test to break. */
function referenceCopy(prefix: string): string {
  const dir = tempDir(prefix);
  cpSync(referenceDir, dir, { recursive: true });
  return dir;
}

type Json = Record<string, unknown>;

function editManifest(dir: string, edit: (manifest: Json) => void): void {
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as Json;
  edit(manifest);
  writeFileSync(path, JSON.stringify(manifest, null, 2));
}

/**
 * Rewrites one ONNX file of the bundle with `edit` and stores its new SHA-256 in the manifest
 * at `shaPath`, so that only the model itself breaks the contract.
 */
function editModel(
  dir: string,
  file: string,
  shaPath: string[],
  edit: (graph: onnxProto.onnx.IGraphProto) => void,
): void {
  const path = join(dir, file);
  const model = onnx.ModelProto.decode(readFileSync(path));
  edit(model.graph!);
  const bytes = onnx.ModelProto.encode(model).finish();
  writeFileSync(path, bytes);
  editManifest(dir, (manifest) => {
    let entry = manifest;
    for (const key of shaPath) entry = entry[key] as Json;
    entry.sha256 = sha256Hex(bytes);
  });
}

async function validate(dir: string): Promise<{ report: ValidationReport; lines: string[] }> {
  const report = await validateBundle(dir, { providers: ['cpu'], logger: silentLogger() });
  return { report, lines: report.violations.map(formatViolation) };
}

/** Runs `bv-edge model ARGS` through the test entry and collects its output. */
function runModelCli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], {
      cwd: repoRoot,
      env: { ...process.env, BV_EDGE_LOG_LEVEL: 'warn' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe('validateBundle', () => {
  test('accepts the reference bundle', async () => {
    const { report, lines } = await validate(referenceDir);
    assert.deepEqual(lines, []);
    assert.equal(report.ranTestVector, true);
    assert.deepEqual(report.providers, {
      ijv: 'cpu',
      scv: 'cpu',
      ivc: 'cpu',
      ca: 'cpu',
      fusion: 'cpu',
    });
  });

  test('rejects a wrong checksum', async () => {
    const dir = referenceCopy('checksum');
    const wrong = 'f'.repeat(64);
    const found = sha256Hex(readFileSync(join(dir, 'view-scv.onnx')));
    editManifest(dir, (manifest) => {
      ((manifest.views as Json).scv as Json).sha256 = wrong;
    });
    const { report, lines } = await validate(dir);
    assert.deepEqual(lines, [
      `view-scv.onnx: field views.scv.sha256: found sha256 ${found}; expected sha256 ${wrong}`,
    ]);
    assert.equal(report.ranTestVector, false);
  });

  test('rejects a wrong input shape', async () => {
    const dir = referenceCopy('shape');
    editModel(dir, 'view-ijv.onnx', ['views', 'ijv'], (graph) => {
      graph.input![0]!.type!.tensorType!.shape!.dim![1] = { dimValue: 16 };
    });
    const { lines } = await validate(dir);
    assert.deepEqual(lines, [
      'view-ijv.onnx: input clip shape (manifest views.ijv.input.shape): ' +
        'found [1, 16, 64, 64]; expected [1, 32, 64, 64]',
    ]);
  });

  test('rejects a symbolic batch axis', async () => {
    const dir = referenceCopy('dynamic');
    editModel(dir, 'view-ca.onnx', ['views', 'ca'], (graph) => {
      graph.input![0]!.type!.tensorType!.shape!.dim![0] = { dimParam: 'batch' };
    });
    const { lines } = await validate(dir);
    assert.deepEqual(lines, [
      'view-ca.onnx: input clip shape (manifest views.ca.input.shape): ' +
        'found [batch, 32, 64, 64]; expected [1, 32, 64, 64]',
    ]);
  });

  test('rejects a missing output', async () => {
    const dir = referenceCopy('output');
    editModel(dir, 'fusion.onnx', ['fusion'], (graph) => {
      graph.output = graph.output!.filter((output) => output.name !== 'bv_upper_ml');
    });
    const { lines } = await validate(dir);
    assert.deepEqual(lines, [
      'fusion.onnx: output bv_upper_ml (manifest fusion.outputs.2.name): ' +
        'found outputs [bv_ml, bv_lower_ml, max_abs_z]; expected an output named bv_upper_ml',
    ]);
  });

  test('rejects a model that outputs NaN', async () => {
    const dir = referenceCopy('nan');
    editModel(dir, 'view-ivc.onnx', ['views', 'ivc'], (graph) => {
      const last = graph.node!.find((node) => node.output![0] === 'features')!;
      last.output = ['features_before_nan'];
      graph.initializer!.push({
        name: 'nan',
        dims: [],
        dataType: onnx.TensorProto.DataType.FLOAT,
        floatData: [Number.NaN],
      });
      graph.node!.push({
        opType: 'Add',
        input: ['features_before_nan', 'nan'],
        output: ['features'],
      });
    });
    const { report, lines } = await validate(dir);
    assert.equal(report.ranTestVector, true);
    assert.equal(lines.length, 6, lines.join('\n'));
    assert.match(
      lines[0]!,
      /^view-ivc\.onnx: output features\[0\] lumen_fraction_mean: found NaN; expected 0\.\d+ ± [\d.e-]+ \(test vector\)$/,
    );
    for (const line of lines) assert.ok(line.startsWith('view-ivc.onnx: output features['), line);
  });

  test('rejects a manifest missing a field', async () => {
    const dir = referenceCopy('field');
    editManifest(dir, (manifest) => {
      delete (manifest.provenance as Json).cvFolds;
    });
    const { report, lines } = await validate(dir);
    assert.deepEqual(lines, [
      'manifest.json: field provenance.cvFolds: found nothing; expected number',
    ]);
    assert.equal(report.manifest, null);
  });

  test('rejects an opset mismatch', async () => {
    const dir = referenceCopy('opset');
    editManifest(dir, (manifest) => {
      manifest.onnxOpset = 13;
    });
    const { lines } = await validate(dir);
    assert.equal(lines.length, 5, lines.join('\n'));
    assert.equal(
      lines[0],
      'view-ijv.onnx: default-domain opset (manifest onnxOpset): found opset 17; expected opset 13',
    );
  });

  test('rejects a missing manifest', async () => {
    const { lines } = await validate(tempDir('empty'));
    assert.deepEqual(lines, [
      'manifest.json: file: found no readable file (ENOENT); expected a manifest',
    ]);
  });

  test('rejects a test vector of the wrong size', async () => {
    const dir = referenceCopy('vector');
    const path = join(dir, 'test-vector.json');
    const vector = JSON.parse(readFileSync(path, 'utf8')) as {
      views: Record<string, { expectedFeatures: number[] }>;
    };
    vector.views.ca!.expectedFeatures.pop();
    const bytes = Buffer.from(JSON.stringify(vector));
    writeFileSync(path, bytes);
    editManifest(dir, (manifest) => {
      (manifest.testVector as Json).sha256 = sha256Hex(bytes);
    });
    const { lines } = await validate(dir);
    assert.deepEqual(lines, [
      'test-vector.json: field views.ca.expectedFeatures: found 5 values; expected 6 values',
    ]);
  });

  test('rejects a test-vector estimate out of range', async () => {
    const dir = referenceCopy('range');
    editManifest(dir, (manifest) => {
      manifest.plausibleRangeMl = [1000, 3200];
    });
    const vector = JSON.parse(readFileSync(join(dir, 'test-vector.json'), 'utf8')) as {
      fusion: { expected: { bvMl: number } };
    };
    const { report, lines } = await validate(dir);
    assert.deepEqual(lines, [
      'manifest.json: field plausibleRangeMl: found [1000, 3200] mL; expected a range that ' +
        `contains ${vector.fusion.expected.bvMl} mL, the fusion.expected.bvMl of test vector ` +
        'test-vector.json',
    ]);
    assert.equal(report.ranTestVector, false);
  });

  test('accepts the small bundle', async () => {
    const dir = tempDir('small');
    await buildSmallBundle(dir);
    const { lines, report } = await validate(dir);
    assert.deepEqual(lines, []);
    assert.equal(report.ranTestVector, true);
  });

  test('reports a NaN fusion output', async () => {
    const dir = tempDir('small-nan');
    await buildSmallBundle(dir, { nanFusion: true });
    const { lines } = await validate(dir);
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.match(
      lines[0]!,
      /^small-fusion\.onnx: output bv_ml: found NaN; expected \d+(\.\d+)? ± /,
    );
  });
});

describe('bv-edge model validate', () => {
  test('exits 0 on the reference bundle', async () => {
    const result = await runModelCli(['validate', referenceDir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /valid bundle bv-edge-reference 0\.1\.0 \(reference\)/);
    assert.match(result.stdout, /fusion on cpu/);
  });

  test('exits 1 with one line per violation', async () => {
    const dir = referenceCopy('cli');
    editManifest(dir, (manifest) => {
      delete manifest.plausibleRangeMl;
      manifest.intendedUse = 'marketing';
    });
    const result = await runModelCli(['validate', dir]);
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), [
      'manifest.json: field intendedUse: found "marketing"; expected one of "reference"|"research"|"clinical"',
      'manifest.json: field plausibleRangeMl: found nothing; expected array',
      `${dir}: 2 violations of the model bundle contract`,
      'The test vector was not run; fix the violations above first.',
    ]);
  });

  test('exits 2 on a bad command line', async () => {
    const missing = await runModelCli(['validate']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /Expected one bundle folder, got 0/);
    const provider = await runModelCli(['validate', referenceDir, '--providers', 'cpu,npu']);
    assert.equal(provider.code, 2, provider.stderr);
    assert.match(provider.stderr, /npu is not one of tensorrt, cuda, cpu/);
    const subcommand = await runModelCli(['check', referenceDir]);
    assert.equal(subcommand.code, 2, subcommand.stderr);
    assert.match(subcommand.stderr, /Unknown model subcommand "check"/);
  });
});
