import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VIEW_NAMES, type ViewName } from '../core/image.ts';
import { BvEdgeError } from '../core/errors.ts';
import { parseManifest, type ModelManifest } from './manifest.ts';

export const MANIFEST_FILE = 'manifest.json';

/** A verified model bundle: the manifest and the ONNX bytes whose SHA-256 matched it. */
export interface ModelBundle {
  dir: string;
  manifest: ModelManifest;
  viewModels: Record<ViewName, Uint8Array>;
  fusionModel: Uint8Array;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readManifest(dir: string): Promise<ModelManifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new BvEdgeError(
      'model_bundle_not_found',
      `Cannot read model manifest ${path}: ${(cause as Error).message}. ` +
        'Build the reference bundle with npm run build:models, or set BV_EDGE_MODEL_DIR.',
      { value: path, cause },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new BvEdgeError(
      'manifest_invalid',
      `Invalid model manifest ${path}: not JSON (${(cause as Error).message}). Rebuild the bundle with npm run build:models.`,
      { value: path, cause },
    );
  }
  return parseManifest(raw, path);
}

/**
 * Reads one bundle file and checks it against the manifest checksum; `field` names the manifest
 * field that lists the file, for the error message.
 */
export async function readVerifiedFile(
  dir: string,
  file: string,
  expectedSha256: string,
  field: string,
): Promise<Uint8Array> {
  const path = join(dir, file);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new BvEdgeError(
      'model_file_missing',
      `Cannot read model file ${path} listed in manifest field ${field}: ${(cause as Error).message}. ` +
        'Restore the file or rebuild the bundle with npm run build:models.',
      { value: path, cause },
    );
  }
  const found = sha256Hex(bytes);
  if (found !== expectedSha256) {
    throw new BvEdgeError(
      'model_checksum_mismatch',
      `Checksum mismatch for model file ${path} (manifest field ${field}.sha256): ` +
        `found sha256 ${found}, expected ${expectedSha256}. The file is corrupt or was replaced; ` +
        'restore it or rebuild the bundle with npm run build:models.',
      { value: { path, found, expected: expectedSha256 } },
    );
  }
  return bytes;
}

/**
 * Loads a model bundle directory: parses and validates manifest.json, then reads every file it
 * lists (view models, fusion model, test vector) and checks its SHA-256. Rejects with a
 * BvEdgeError that names the file, the manifest field, and the found and expected values.
 */
export async function loadBundle(dir: string): Promise<ModelBundle> {
  const manifest = await readManifest(dir);
  // Sequential reads, so that the first bad file in manifest order is the one reported.
  const viewModels = {} as Record<ViewName, Uint8Array>;
  for (const view of VIEW_NAMES) {
    const spec = manifest.views[view];
    viewModels[view] = await readVerifiedFile(dir, spec.file, spec.sha256, `views.${view}`);
  }
  const fusionModel = await readVerifiedFile(
    dir,
    manifest.fusion.file,
    manifest.fusion.sha256,
    'fusion',
  );
  const { testVector } = manifest;
  await readVerifiedFile(dir, testVector.file, testVector.sha256, 'testVector');
  return { dir, manifest, viewModels, fusionModel };
}
