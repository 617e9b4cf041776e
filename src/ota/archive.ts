// The bundle archive: a gzip-compressed ustar file holding manifest.json, its signature
// (manifest.sig, JSON) and every file the manifest lists, all at the top level. The manifest
// contains the SHA-256 of each file, so the signature over its bytes covers the whole bundle.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { KeyObject } from 'node:crypto';

import { BvEdgeError } from '../core/errors.ts';
import { VIEW_NAMES } from '../core/image.ts';
import { loadBundle, MANIFEST_FILE, type ModelBundle } from '../inference/bundle.ts';
import type { ModelManifest } from '../inference/manifest.ts';
import { signatureSchema, signManifest, type BundleSignature } from './signing.ts';
import { readTar, writeTar, type TarEntry } from './tar.ts';

export const SIGNATURE_FILE = 'manifest.sig';

/** An archive read into memory: nothing is checked beyond the container itself. */
export interface BundleArchive {
  manifestBytes: Uint8Array;
  /** null for an archive packed without a key. */
  signature: BundleSignature | null;
  /** Every other file by name. */
  files: Map<string, Uint8Array>;
}

/** Names of the files a manifest lists, in manifest order. */
export function listedFiles(manifest: ModelManifest): string[] {
  return [
    ...VIEW_NAMES.map((view) => manifest.views[view].file),
    manifest.fusion.file,
    manifest.testVector.file,
  ];
}

/**
 * Packs the bundle folder `dir` into archive bytes, signed with `privateKey` when given. The
 * folder is loaded first, so a bundle whose manifest or checksums are invalid is never packed.
 */
export async function packBundle(dir: string, privateKey?: KeyObject): Promise<Uint8Array> {
  const bundle = await loadBundleToPack(dir);
  const manifestBytes = await readFile(join(dir, MANIFEST_FILE));
  const entries: TarEntry[] = [{ name: MANIFEST_FILE, data: manifestBytes }];
  if (privateKey) entries.push(signatureEntry(signManifest(manifestBytes, privateKey)));
  const names = [...new Set(listedFiles(bundle.manifest))];
  for (const name of names) entries.push({ name, data: await readFile(join(dir, name)) });
  return gzipSync(writeTar(entries));
}

/**
 * Loads the bundle folder to pack. loadBundle's message for a missing manifest is about the
 * daemon's modelDir, so a folder without one gets a message about the folder to pack instead.
 */
async function loadBundleToPack(dir: string): Promise<ModelBundle> {
  try {
    return await loadBundle(dir);
  } catch (error) {
    if (!(error instanceof BvEdgeError) || error.code !== 'model_bundle_not_found') throw error;
    const path = join(dir, MANIFEST_FILE);
    const reason = (error.cause as NodeJS.ErrnoException | undefined)?.code ?? 'unreadable';
    throw new BvEdgeError(
      'model_bundle_not_found',
      `Cannot pack ${dir}: ${path} is missing or unreadable (${reason}). Give the bundle folder ` +
        `that contains ${MANIFEST_FILE} and the files it lists.`,
      { value: path, cause: error },
    );
  }
}

function signatureEntry(signature: BundleSignature): TarEntry {
  return { name: SIGNATURE_FILE, data: Buffer.from(`${JSON.stringify(signature, null, 2)}\n`) };
}

/** Adds or replaces the signature of `archive` with one made by `privateKey`. */
export function signArchive(
  archive: Uint8Array,
  privateKey: KeyObject,
  maxBytes: number,
): Uint8Array {
  const { manifestBytes, files } = readArchive(archive, maxBytes);
  const entries: TarEntry[] = [
    { name: MANIFEST_FILE, data: manifestBytes },
    signatureEntry(signManifest(manifestBytes, privateKey)),
  ];
  for (const [name, data] of files) entries.push({ name, data });
  return gzipSync(writeTar(entries));
}

function unzip(archive: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return gunzipSync(archive, { maxOutputLength: maxBytes });
  } catch (cause) {
    const tooLarge = (cause as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    throw new BvEdgeError(
      tooLarge ? 'archive_too_large' : 'archive_invalid',
      tooLarge
        ? `The bundle archive unpacks to more than ${maxBytes} bytes, the limit set by ` +
            'models.maxBundleMb. Raise the limit or ship a smaller bundle.'
        : `Invalid bundle archive: ${gzipProblem(cause)}. Pack it with bv-edge model pack.`,
      { cause },
    );
  }
}

/** Describes a gunzip failure: a cut-off archive reads differently from data that is not gzip. */
function gzipProblem(cause: unknown): string {
  if ((cause as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') {
    return 'truncated archive (the gzip data ends early); copy the whole file again';
  }
  return `not gzip data (${(cause as Error).message})`;
}

function parseSignature(bytes: Uint8Array): BundleSignature {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new BvEdgeError('signature_invalid', `Invalid ${SIGNATURE_FILE}: not JSON.`, { cause });
  }
  const result = signatureSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new BvEdgeError(
      'signature_invalid',
      `Invalid ${SIGNATURE_FILE}: ${issues.join('; ')}. Sign the bundle with bv-edge model sign.`,
    );
  }
  return result.data;
}

/**
 * Unpacks archive bytes in memory. Rejects data that is not gzip, an unpacked size over
 * `maxBytes`, tar entries that are not plain files at the top level, and an archive without
 * manifest.json. The signature and checksums are checked by the installer.
 */
export function readArchive(archive: Uint8Array, maxBytes: number): BundleArchive {
  const entries = readTar(unzip(archive, maxBytes));
  const files = new Map(entries.map((entry) => [entry.name, entry.data]));
  const manifestBytes = files.get(MANIFEST_FILE);
  if (!manifestBytes) {
    throw new BvEdgeError(
      'archive_invalid',
      `Invalid bundle archive: it has no ${MANIFEST_FILE}. Pack the bundle folder with bv-edge ` +
        'model pack.',
    );
  }
  files.delete(MANIFEST_FILE);
  const signatureBytes = files.get(SIGNATURE_FILE);
  files.delete(SIGNATURE_FILE);
  return {
    manifestBytes,
    signature: signatureBytes ? parseSignature(signatureBytes) : null,
    files,
  };
}
