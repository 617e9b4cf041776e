import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VIEW_NAMES } from '../core/image.ts';
import { sha256Hex } from './bundle.ts';
import type { ModelManifest, TensorSpec } from './manifest.ts';
import { formatDims, inspectOnnxModel, type GraphTensor } from './onnx-inspect.ts';
import type { ModelKey } from './worker-protocol.ts';
import type { Violation } from './violation.ts';

/** A file the manifest lists, with the manifest field that lists it. */
interface ListedFile {
  key: ModelKey | 'testVector';
  field: string;
  file: string;
  sha256: string;
}

/** A tensor the manifest declares, with the manifest field that declares it. */
interface DeclaredTensor extends TensorSpec {
  field: string;
}

function listedFiles(manifest: ModelManifest): ListedFile[] {
  return [
    ...VIEW_NAMES.map((view) => ({ key: view, field: `views.${view}`, ...manifest.views[view] })),
    { key: 'fusion' as const, field: 'fusion', ...manifest.fusion },
    { key: 'testVector' as const, field: 'testVector', ...manifest.testVector },
  ];
}

/**
 * Reads every file the manifest lists and compares its SHA-256 with the manifest. Returns the
 * bytes of each readable file by key, mismatched ones included, so that later checks still run.
 */
export async function checkFiles(
  dir: string,
  manifest: ModelManifest,
  violations: Violation[],
): Promise<Map<ModelKey | 'testVector', Uint8Array>> {
  const files = new Map<ModelKey | 'testVector', Uint8Array>();
  for (const listed of listedFiles(manifest)) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(dir, listed.file));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      violations.push({
        file: listed.file,
        field: `field ${listed.field}.file`,
        found: `no readable file (${code})`,
        expected: `the file ${listed.file} in ${dir}`,
      });
      continue;
    }
    const found = sha256Hex(bytes);
    if (found !== listed.sha256) {
      violations.push({
        file: listed.file,
        field: `field ${listed.field}.sha256`,
        found: `sha256 ${found}`,
        expected: `sha256 ${listed.sha256}`,
      });
    }
    files.set(listed.key, bytes);
  }
  return files;
}

function declaredTensors(
  manifest: ModelManifest,
  key: ModelKey,
): { inputs: DeclaredTensor[]; outputs: DeclaredTensor[] } {
  if (key !== 'fusion') {
    const { input, output } = manifest.views[key];
    return {
      inputs: [{ ...input, field: `views.${key}.input` }],
      outputs: [{ ...output, field: `views.${key}.output` }],
    };
  }
  const { inputs, outputs } = manifest.fusion;
  return {
    inputs: inputs.map((input, i) => ({ ...input, field: `fusion.inputs.${i}` })),
    outputs: outputs.map((output, i) => ({ ...output, field: `fusion.outputs.${i}` })),
  };
}

function checkTensors(
  file: string,
  kind: 'input' | 'output',
  declared: readonly DeclaredTensor[],
  graph: readonly GraphTensor[],
  violations: Violation[],
): void {
  const graphNames = graph.map((tensor) => tensor.name);
  for (const tensor of declared) {
    const found = graph.find((candidate) => candidate.name === tensor.name);
    if (!found) {
      violations.push({
        file,
        field: `${kind} ${tensor.name} (manifest ${tensor.field}.name)`,
        found: `${kind}s [${graphNames.join(', ')}]`,
        expected: `an ${kind} named ${tensor.name}`,
      });
      continue;
    }
    if (found.dtype !== tensor.dtype) {
      violations.push({
        file,
        field: `${kind} ${tensor.name} dtype (manifest ${tensor.field}.dtype)`,
        found: found.dtype,
        expected: tensor.dtype,
      });
    }
    if (formatDims(found.dims) !== formatDims(tensor.shape)) {
      violations.push({
        file,
        field: `${kind} ${tensor.name} shape (manifest ${tensor.field}.shape)`,
        found: formatDims(found.dims),
        expected: formatDims(tensor.shape),
      });
    }
  }
  if (kind === 'output') return;
  const declaredNames = declared.map((tensor) => tensor.name);
  for (const name of graphNames.filter((graphName) => !declaredNames.includes(graphName))) {
    violations.push({
      file,
      field: `input ${name}`,
      found: `an input the manifest does not declare`,
      expected: `only the inputs [${declaredNames.join(', ')}]`,
    });
  }
}

/** Checks one ONNX file's opset, inputs and outputs against the manifest. */
function checkModel(
  manifest: ModelManifest,
  key: ModelKey,
  bytes: Uint8Array,
  violations: Violation[],
): void {
  const file = key === 'fusion' ? manifest.fusion.file : manifest.views[key].file;
  let info;
  try {
    info = inspectOnnxModel(bytes);
  } catch (error) {
    const found = `bytes that do not decode (${(error as Error).message})`;
    violations.push({ file, field: 'file', found, expected: 'an ONNX ModelProto' });
    return;
  }
  if (info.opset !== manifest.onnxOpset) {
    violations.push({
      file,
      field: 'default-domain opset (manifest onnxOpset)',
      found: info.opset === null ? 'no ai.onnx opset import' : `opset ${info.opset}`,
      expected: `opset ${manifest.onnxOpset}`,
    });
  }
  const declared = declaredTensors(manifest, key);
  checkTensors(file, 'input', declared.inputs, info.inputs, violations);
  checkTensors(file, 'output', declared.outputs, info.outputs, violations);
}

/** Checks every readable ONNX file of the bundle against the manifest. */
export function checkModels(
  manifest: ModelManifest,
  files: ReadonlyMap<ModelKey | 'testVector', Uint8Array>,
  violations: Violation[],
): void {
  for (const key of [...VIEW_NAMES, 'fusion' as const]) {
    const bytes = files.get(key);
    if (bytes) checkModel(manifest, key, bytes, violations);
  }
}
