import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { MANIFEST_FILE, sha256Hex } from '../inference/bundle.ts';
import type { ExecutionProvider } from '../inference/engine.ts';
import { parseManifest, type ModelManifest } from '../inference/manifest.ts';
import type { TensorRtOptions } from '../inference/tensorrt.ts';
import { validateBundle } from '../inference/validate.ts';
import { formatViolation } from '../inference/violation.ts';
import { listedFiles, readArchive, type BundleArchive } from './archive.ts';
import { checkVersionName, type BundleStore } from './bundle-store.ts';
import { checkCompatibility } from './compat.ts';
import { verifyManifest, type TrustedKey } from './signing.ts';

export interface InstallOptions {
  store: BundleStore;
  trustedKeys: readonly TrustedKey[];
  /** The configured execution providers, in order. */
  providers: readonly ExecutionProvider[];
  daemonVersion: string;
  /** Limit of the archive and of its unpacked size, bytes. */
  maxBytes: number;
  /** Space that must stay free in the bundles folder after the install, bytes. */
  minFreeBytes: number;
  tensorrt?: TensorRtOptions;
  logger: Logger;
  /** Called before each step, for progress reports. */
  onStep?: (step: InstallStep, details: Record<string, unknown>) => void;
}

export type InstallStep = 'verifying' | 'validating' | 'committing';

/** A bundle that passed every check and is in the store. */
export interface InstalledBundle {
  name: string;
  version: string;
  dir: string;
  manifest: ModelManifest;
  /** Id of the trusted key whose signature verified. */
  keyId: string;
  archiveSha256: string;
  /** Providers the bundle loads on here. */
  providers: ExecutionProvider[];
  /** True when the same version with the same manifest was installed already. */
  alreadyInstalled: boolean;
}

function parseArchiveManifest(bytes: Uint8Array): ModelManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new BvEdgeError(
      'manifest_invalid',
      `Invalid ${MANIFEST_FILE} in the bundle archive: not JSON (${(cause as Error).message}).`,
      { cause },
    );
  }
  return parseManifest(raw, `${MANIFEST_FILE} in the bundle archive`);
}

/** Checks that the archive contains exactly the files the manifest lists, with their checksums. */
function checkContents(archive: BundleArchive, manifest: ModelManifest): void {
  const listed = new Map<string, string>();
  for (const view of Object.values(manifest.views)) listed.set(view.file, view.sha256);
  listed.set(manifest.fusion.file, manifest.fusion.sha256);
  listed.set(manifest.testVector.file, manifest.testVector.sha256);
  for (const name of archive.files.keys()) {
    if (!listed.has(name)) {
      throw new BvEdgeError(
        'archive_invalid',
        `Invalid bundle archive: it contains ${name}, which the manifest does not list. Pack ` +
          'the bundle with bv-edge model pack, which adds only the listed files.',
        { value: name },
      );
    }
  }
  for (const name of listedFiles(manifest)) {
    const data = archive.files.get(name);
    if (!data) {
      throw new BvEdgeError(
        'archive_invalid',
        `Invalid bundle archive: the manifest lists ${name}, but the archive does not contain it.`,
        { value: name },
      );
    }
    const found = sha256Hex(data);
    if (found !== listed.get(name)) {
      throw new BvEdgeError(
        'model_checksum_mismatch',
        `Checksum mismatch for ${name} in the bundle archive: found sha256 ${found}, expected ` +
          `${listed.get(name)} from the signed manifest. The file was changed after signing.`,
        { value: { file: name, found, expected: listed.get(name) } },
      );
    }
  }
}

async function checkFreeSpace(archive: BundleArchive, options: InstallOptions): Promise<void> {
  let size = archive.manifestBytes.length;
  for (const data of archive.files.values()) size += data.length;
  const free = await options.store.freeBytes();
  if (free - size < options.minFreeBytes) {
    const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    throw new BvEdgeError(
      'insufficient_space',
      `Not enough free space in ${options.store.dir} for the bundle: it needs ${mib(size)}, ` +
        `${mib(free)} are free and ${mib(options.minFreeBytes)} must stay free ` +
        '(models.minFreeMb). Free space or remove old bundle versions.',
      { value: { size, free, minFree: options.minFreeBytes } },
    );
  }
}

/**
 * If this version is installed already: returns it when its manifest is the same bytes, and
 * throws when it differs, because a version names one immutable bundle.
 */
async function existingInstall(
  archive: BundleArchive,
  manifest: ModelManifest,
  options: InstallOptions,
): Promise<string | null> {
  if (!options.store.isInstalled(manifest.version)) return null;
  const dir = options.store.versionDir(manifest.version);
  const installed = await readFile(join(dir, MANIFEST_FILE));
  if (sha256Hex(installed) === sha256Hex(archive.manifestBytes)) return dir;
  throw new BvEdgeError(
    'bundle_version_exists',
    `Bundle version ${manifest.version} is installed already with a different manifest. ` +
      'Give the new bundle a new version.',
    { value: manifest.version },
  );
}

/** Writes the files to a staging folder and runs the contract checks and the test vector. */
async function stageAndValidate(
  archive: BundleArchive,
  manifest: ModelManifest,
  providers: ExecutionProvider[],
  options: InstallOptions,
): Promise<string> {
  const staging = await options.store.createStaging();
  try {
    await writeFile(join(staging, MANIFEST_FILE), archive.manifestBytes);
    for (const [name, data] of archive.files) await writeFile(join(staging, name), data);
    options.onStep?.('validating', { version: manifest.version, providers });
    const report = await validateBundle(staging, {
      providers,
      logger: options.logger.child({ subsystem: 'validate' }, { level: 'error' }),
      ...(options.tensorrt && { tensorrt: options.tensorrt }),
    });
    if (report.violations.length > 0) {
      const lines = report.violations.map(formatViolation);
      const failure = report.ranTestVector ? 'fails its test vector' : 'breaks the bundle contract';
      throw new BvEdgeError(
        report.ranTestVector ? 'test_vector_failed' : 'bundle_invalid',
        `Bundle ${manifest.name} ${manifest.version} ${failure}: ${lines.join('; ')}. ` +
          'Run bv-edge model validate on the bundle folder and fix it.',
        { value: lines },
      );
    }
    return staging;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Installs archive bytes into the store: checks the signature against the trusted keys, that
 * the archive contains exactly the files the manifest lists with their SHA-256, the manifest's
 * `requires`, the free space, then loads every model and runs the test vector from a staging
 * folder and renames it into place. The active bundle is not changed. Throws a BvEdgeError whose
 * code and message give the reason for a rejection.
 */
export async function installArchive(
  bytes: Uint8Array,
  options: InstallOptions,
): Promise<InstalledBundle> {
  const archiveSha256 = sha256Hex(bytes);
  if (bytes.length > options.maxBytes) {
    throw new BvEdgeError(
      'archive_too_large',
      `The bundle archive has ${bytes.length} bytes, over the ${options.maxBytes} that ` +
        'models.maxBundleMb allows.',
      { value: bytes.length },
    );
  }
  options.onStep?.('verifying', { archiveSha256 });
  const archive = readArchive(bytes, options.maxBytes);
  if (!archive.signature) {
    throw new BvEdgeError(
      'bundle_unsigned',
      'The bundle archive has no signature. Sign it with bv-edge model sign --key KEY.',
    );
  }
  const key = verifyManifest(archive.manifestBytes, archive.signature, options.trustedKeys);
  const manifest = parseArchiveManifest(archive.manifestBytes);
  checkVersionName(manifest.version);
  checkContents(archive, manifest);
  const providers = checkCompatibility(manifest, options);
  const result = {
    name: manifest.name,
    version: manifest.version,
    manifest,
    keyId: key.keyId,
    archiveSha256,
    providers,
  };
  const existing = await existingInstall(archive, manifest, options);
  if (existing) return { ...result, dir: existing, alreadyInstalled: true };
  await checkFreeSpace(archive, options);

  const staging = await stageAndValidate(archive, manifest, providers, options);
  options.onStep?.('committing', { version: manifest.version });
  const dir = await options.store.commit(staging, manifest.version);
  options.logger.info(
    { model: manifest.name, version: manifest.version, keyId: key.keyId, dir },
    'model bundle installed',
  );
  return { ...result, dir, alreadyInstalled: false };
}
