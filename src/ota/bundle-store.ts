// The bundles folder on disk:
//   versions/<version>/   installed bundles, each a complete bundle folder
//   .staging-<random>/    an install in progress; renamed into versions/ when it passes
//   incoming/<id>.part    archives arriving in chunks over MQTT
//   state.json            which bundle is active and which was active before
// Every change becomes visible through one rename, so a kill -9 leaves either the old or the new
// state, plus leftovers that open() removes.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { PLAIN_NAME } from './tar.ts';

const STATE_FILE = 'state.json';
const STAGING_PREFIX = '.staging-';
const TEMP_SUFFIX = '.tmp';
/** Maximum length of a bundle version, because it becomes a folder name. */
const MAX_VERSION_LENGTH = 64;

const slotSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('installed'), version: z.string().min(1) }),
  /** The bundle in the config's modelDir, which the store never changes. */
  z.strictObject({ source: z.literal('configured') }),
]);
export type BundleSlot = z.infer<typeof slotSchema>;

const stateSchema = z.strictObject({
  active: slotSchema,
  previous: slotSchema.nullable(),
  /**
   * `pending` from an activation until the health gate passes. A start with a pending gate runs
   * the gate again, because the process may have stopped in the middle of it.
   */
  gate: z.enum(['pending', 'passed']),
  /**
   * The gate of the previous bundle, so that a rollback to a bundle that never passed its gate
   * runs the gate again. Missing in state files written before it existed.
   */
  previousGate: z.enum(['pending', 'passed']).optional(),
  changedAt: z.string(),
});
export type BundleState = z.infer<typeof stateSchema>;

export const CONFIGURED: BundleSlot = { source: 'configured' };

const INITIAL_STATE: BundleState = {
  active: CONFIGURED,
  previous: null,
  gate: 'passed',
  changedAt: new Date(0).toISOString(),
};

export function slotLabel(slot: BundleSlot | null): string {
  if (!slot) return 'none';
  return slot.source === 'installed' ? slot.version : 'the configured modelDir bundle';
}

export function sameSlot(a: BundleSlot | null, b: BundleSlot | null): boolean {
  if (!a || !b) return a === b;
  if (a.source !== b.source) return false;
  return a.source === 'configured' || a.version === (b as typeof a).version;
}

/** Throws BvEdgeError `bundle_version_invalid` unless `version` can name a folder. */
export function checkVersionName(version: string): string {
  if (!PLAIN_NAME.test(version) || version.length > MAX_VERSION_LENGTH) {
    throw new BvEdgeError(
      'bundle_version_invalid',
      `Invalid bundle version "${version}": it names the bundle's folder on the device, so it ` +
        `needs at most ${MAX_VERSION_LENGTH} letters, digits, ".", "_" or "-" and no leading ` +
        'dot. Change manifest.json version.',
      { value: version },
    );
  }
  return version;
}

/** Writes `data` to `path` through a temporary file, fsync and rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
  const handle = await open(temp, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

/** Flushes a folder's entries, so that a rename inside it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class BundleStore {
  readonly versionsDir: string;
  readonly incomingDir: string;

  constructor(
    /** The bundles folder. */
    readonly dir: string,
    /** The config's modelDir: the bundle used while none is installed and active. */
    readonly configuredDir: string,
  ) {
    this.versionsDir = join(dir, 'versions');
    this.incomingDir = join(dir, 'incoming');
  }

  /**
   * Creates the folders and removes what an interrupted install left behind: staging folders
   * and temporary files. Returns the names removed.
   */
  async open(logger: Logger): Promise<string[]> {
    await mkdir(this.versionsDir, { recursive: true });
    await mkdir(this.incomingDir, { recursive: true });
    const removed: string[] = [];
    for (const [folder, names] of [
      [this.dir, await readdir(this.dir)],
      [this.incomingDir, await readdir(this.incomingDir)],
    ] as const) {
      for (const name of names) {
        if (!name.startsWith(STAGING_PREFIX) && !name.endsWith(TEMP_SUFFIX)) continue;
        await rm(join(folder, name), { recursive: true, force: true });
        removed.push(name);
      }
    }
    if (removed.length > 0) {
      logger.warn({ removed }, 'removed the partial files of an interrupted bundle install');
    }
    return removed;
  }

  async readState(): Promise<BundleState> {
    const path = join(this.dir, STATE_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return INITIAL_STATE;
      throw error;
    }
    const result = stateSchema.safeParse(JSON.parse(text));
    if (!result.success) {
      throw new BvEdgeError(
        'bundle_state_invalid',
        `Invalid bundle state ${path}: ${result.error.message}. Delete the file to go back to ` +
          'the configured modelDir bundle.',
        { value: path },
      );
    }
    return result.data;
  }

  async writeState(state: Omit<BundleState, 'changedAt'>): Promise<BundleState> {
    const full: BundleState = { ...state, changedAt: new Date().toISOString() };
    await writeFileAtomic(join(this.dir, STATE_FILE), `${JSON.stringify(full, null, 2)}\n`);
    await syncDir(this.dir);
    return full;
  }

  /** Returns the folder of a slot's bundle. */
  dirOf(slot: BundleSlot): string {
    return slot.source === 'configured' ? this.configuredDir : this.versionDir(slot.version);
  }

  versionDir(version: string): string {
    return join(this.versionsDir, checkVersionName(version));
  }

  isInstalled(version: string): boolean {
    return existsSync(this.versionDir(version));
  }

  async installedVersions(): Promise<string[]> {
    const names = await readdir(this.versionsDir);
    return names.filter((name) => PLAIN_NAME.test(name)).sort();
  }

  /** Creates an empty staging folder inside the bundles folder, so the final rename is atomic. */
  async createStaging(): Promise<string> {
    const dir = join(this.dir, `${STAGING_PREFIX}${randomBytes(6).toString('hex')}`);
    await mkdir(dir);
    return dir;
  }

  /** Moves a checked staging folder to versions/<version> in one rename. */
  async commit(staging: string, version: string): Promise<string> {
    const target = this.versionDir(version);
    await syncDir(staging);
    await rename(staging, target);
    await syncDir(this.versionsDir);
    return target;
  }

  async removeVersion(version: string): Promise<void> {
    await rm(this.versionDir(version), { recursive: true, force: true });
  }

  /** Bytes available to this user in the bundles folder. */
  async freeBytes(): Promise<number> {
    const stats = await statfs(this.dir);
    return stats.bavail * stats.bsize;
  }
}
