/**
 * The data folder on a small file system (an 8 MiB tmpfs, or a loop-mounted ext4 image where
 * tmpfs cannot be mounted) that the test fills. Below storage.minFreeMb new recordings are
 * rejected with the disk-guard message; with the disk completely full a database write fails with
 * a clear error; the daemon keeps serving requests throughout, and after space is freed the database
 * passes integrity_check, the earlier cases are readable and writes succeed again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { freePort } from '../helpers/mosquitto.ts';
import {
  assertStoreIntact,
  seedCases,
  startTestDaemon,
  type TestDaemon,
} from './helpers/harness.ts';

const SIZE_MB = 8;
/** The disk-guard floor of the test, MiB. */
const MIN_FREE_MB = 3;
const MiB = 1024 * 1024;

let folder = '';
let mountPoint = '';
let mounted = false;
let skipReason: string | false = false;
let daemon: TestDaemon | null = null;

/** Mounts a small file system on `dir`: tmpfs first, else an ext4 image; returns how or throws. */
function mountSmallFileSystem(dir: string): string {
  const errors: string[] = [];
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MB}m`, 'tmpfs', dir], {
      stdio: 'pipe',
    });
    return `tmpfs of ${SIZE_MB} MiB`;
  } catch (error) {
    errors.push(
      `mount -t tmpfs: ${(error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error)}`,
    );
  }
  const image = join(folder, 'disk.img');
  try {
    execFileSync('truncate', ['-s', `${SIZE_MB * 2}M`, image]);
    execFileSync('mkfs.ext4', ['-q', '-F', image], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop', image, dir], { stdio: 'pipe' });
    return `ext4 image of ${SIZE_MB * 2} MiB`;
  } catch (error) {
    errors.push(
      `mount -o loop: ${(error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error)}`,
    );
  }
  throw new Error(errors.join('; '));
}

let fileSystem = '';

before(() => {
  folder = mkdtempSync(join(tmpdir(), 'bv-edge-disk-full-'));
  mountPoint = join(folder, 'data');
  execFileSync('mkdir', ['-p', mountPoint]);
  try {
    fileSystem = mountSmallFileSystem(mountPoint);
    mounted = true;
  } catch (error) {
    skipReason = `no small file system could be mounted: ${(error as Error).message}`;
  }
});

after(async () => {
  await daemon?.stop();
  if (mounted) execFileSync('umount', [mountPoint]);
  if (folder) rmSync(folder, { recursive: true, force: true });
});

function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
}

/** Appends to `path` until `leaveBytes` are free or the disk is full; returns the bytes written. */
function fill(path: string, leaveBytes: number): number {
  const fd = openSync(path, 'a');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let written = 0;
  try {
    while (freeBytes(path) > leaveBytes) {
      try {
        written += writeSync(
          fd,
          chunk,
          0,
          Math.min(chunk.length, freeBytes(path) - leaveBytes || chunk.length),
        );
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

async function post(
  path: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(new URL(path, daemon!.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const LABEL = {
  enteredBy: 'coordinator',
  hbUnit: 'g/dL',
  hbBefore: 13,
  hbAfter: 11,
  withdrawnMl: 900,
};

test('disk full keeps stored cases', { timeout: 120_000 }, async (t) => {
  if (skipReason) {
    t.skip(skipReason);
    return;
  }
  const seeded = seedCases(mountPoint, 3);
  daemon = await startTestDaemon(mountPoint, {
    mqtt: { url: `mqtt://127.0.0.1:${await freePort()}` },
    fleet: { enabled: false },
    storage: { minFreeMb: MIN_FREE_MB },
  });
  const filler = join(mountPoint, 'filler.bin');

  // Below the floor: a new recording is rejected before it starts.
  fill(filler, (MIN_FREE_MB - 1) * MiB);
  const opened = await post('api/workflow/case', {
    caseId: 'disk-1',
    heightCm: 170,
    weightKg: 70,
    sex: 'female',
  });
  assert.equal(opened.status, 201, JSON.stringify(opened.json));
  const rejected = await post('api/workflow/recording', { view: 'ivc', durationS: 3.5 });
  assert.equal(rejected.status, 507, JSON.stringify(rejected.json));
  assert.equal(rejected.json.code, 'insufficient_storage');
  assert.match(String(rejected.json.detail), /only \d+ MiB are free .*\(storage\.minFreeMb\)/);

  // Completely full: a database write fails with a clear error, and the daemon keeps serving requests.
  fill(filler, 0);
  const full = freeBytes(mountPoint);
  const failures: string[] = [];
  for (let i = 0; i < 20; i++) {
    const labelled = await post('api/cases/seed-1/labels', LABEL);
    if (labelled.status === 201) continue;
    failures.push(
      `${labelled.status} ${String(labelled.json.code)}: ${String(labelled.json.detail)}`,
    );
    assert.ok(
      labelled.status >= 500,
      `label write on a full disk: ${JSON.stringify(labelled.json)}`,
    );
    assert.equal(labelled.json.code, 'insufficient_storage', JSON.stringify(labelled.json));
  }
  const health = await fetch(new URL('healthz', daemon.url));
  assert.equal(health.status, 200, '/healthz failed on a full disk');
  const read = await fetch(new URL('api/cases/seed-2', daemon.url));
  assert.equal(read.status, 200, 'a stored case could not be read on a full disk');

  // Space freed: writes work again and nothing stored was lost.
  rmSync(filler);
  const after = await post('api/cases/seed-3/labels', LABEL);
  assert.equal(after.status, 201, `label write after freeing space: ${JSON.stringify(after.json)}`);
  assert.equal(await daemon.stop(), true, 'the daemon did not stop cleanly');
  daemon = null;
  const stored = assertStoreIntact(mountPoint, seeded);
  console.log(
    `disk full: ${fileSystem}, ${full} bytes free when full; recording rejected with 507; ` +
      `${failures.length} of 20 label writes failed on the full disk (${failures[0] ?? 'none'}); ` +
      `${stored} cases stored after freeing space`,
  );
  assert.ok(failures.length > 0, 'no write failed on the full disk, so the test proved nothing');
});
