/**
 * Damaged video files, made from the real clips by this test: each one decodes, or fails with a
 * BvEdgeError whose message names the file and the fix. Nothing may hang or take the process down,
 * and a one-shot scan with a damaged view exits with a message and leaves the stored cases intact.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';

import Database from 'better-sqlite3';

import { decodeClip } from '../../src/capture/decode.ts';
import { BvEdgeError } from '../../src/core/errors.ts';
import { ensurePhantomClips } from '../../src/phantom/index.ts';
import { runCli } from '../helpers/cli.ts';
import { clip, realClipsSkip } from '../helpers/data.ts';

/** Small deterministic generator (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Damage = (bytes: Buffer, next: () => number) => Buffer;

/** Ways a clip gets damaged on its way from the scanner: cut copies, bad sectors, wrong files. */
const DAMAGES: Record<string, Damage> = {
  empty: () => Buffer.alloc(0),
  'first 1 %': (bytes) => bytes.subarray(0, Math.floor(bytes.length * 0.01)),
  'first 30 %': (bytes) => bytes.subarray(0, Math.floor(bytes.length * 0.3)),
  'first 80 %': (bytes) => bytes.subarray(0, Math.floor(bytes.length * 0.8)),
  'header zeroed': (bytes) => {
    const copy = Buffer.from(bytes);
    copy.fill(0, 0, Math.min(256, copy.length));
    return copy;
  },
  'bytes flipped': (bytes, next) => {
    const copy = Buffer.from(bytes);
    for (let i = 0; i < 200; i++) {
      const at = Math.floor(copy.length * (0.1 + 0.8 * next()));
      copy[at] = copy[at]! ^ 0xff;
    }
    return copy;
  },
  'block zeroed': (bytes, next) => {
    const copy = Buffer.from(bytes);
    const at = Math.floor(copy.length * (0.2 + 0.6 * next()));
    copy.fill(0, at, Math.min(copy.length, at + 16_384));
    return copy;
  },
  'halves swapped': (bytes) => {
    const middle = Math.floor(bytes.length / 2);
    return Buffer.concat([bytes.subarray(middle), bytes.subarray(0, middle)]);
  },
  noise: (bytes, next) => Buffer.from(Array.from({ length: bytes.length }, () => next() * 256)),
  text: () => Buffer.from('This is a report, not a video.\n'.repeat(100)),
};

const CLIPS = [
  'ivc/ivc-long-plethoric.mp4',
  'ivc/ivc-trans-collapsing.mp4',
  'artery/brachial-long-bmode-color.mov',
  'ivc/ivc-subcostal-normal.gif',
];

/** Stall timeout of the decoder, ms. The daemon's default of 15 s would make this test slow. */
const STALL_MS = 4000;

let folder = '';
const counts = { decoded: 0, rejected: 0, byCode: new Map<string, number>() };

before(() => {
  folder = mkdtempSync(join(tmpdir(), 'bv-edge-video-fuzz-'));
});

after(() => {
  rmSync(folder, { recursive: true, force: true });
  const codes = [...counts.byCode].map(([code, n]) => `${code} ${n}`).join(', ');
  console.log(
    `video fuzz: ${counts.decoded} damaged files decoded, ${counts.rejected} rejected (${codes})`,
  );
});

for (const relative of CLIPS) {
  test(`damaged ${relative}`, { skip: realClipsSkip }, async () => {
    const original = readFileSync(clip(relative));
    const next = random(relative.length * 7919);
    for (const [name, damage] of Object.entries(DAMAGES)) {
      const path = join(folder, `${name.replace(/\W+/g, '-')}-${basename(relative)}`);
      writeFileSync(path, damage(original, next));
      try {
        const decoded = await decodeClip(path, { timeoutMs: STALL_MS });
        counts.decoded++;
        assert.ok(decoded.frames.length > 0, `${name}: decoded with no frames`);
        assert.ok(
          decoded.width > 0 && decoded.height > 0,
          `${name}: decoded ${decoded.width}x${decoded.height}`,
        );
      } catch (error) {
        counts.rejected++;
        assert.ok(error instanceof BvEdgeError, `${name}: ${String(error)} is not a BvEdgeError`);
        counts.byCode.set(error.code, (counts.byCode.get(error.code) ?? 0) + 1);
        assert.ok(error.message.includes(path), `${name}: message does not name the file`);
        assert.match(error.message, /\. [A-Z][^.]+\.$/, `${name}: no advice in "${error.message}"`);
      }
      rmSync(path);
    }
  });
}

test('damaged scan keeps stored cases', { skip: realClipsSkip }, async () => {
  const dataDir = join(folder, 'data');
  const phantom = await ensurePhantomClips(join(folder, 'phantom'));
  const views = (path: (view: 'ijv' | 'scv' | 'ivc' | 'ca') => string) =>
    (['ijv', 'scv', 'ivc', 'ca'] as const).flatMap((view) => ['--view', `${view}=${path(view)}`]);
  const patient = ['--height-cm', '170', '--weight-kg', '70', '--sex', 'male'];
  const common = ['--data-dir', dataDir, '--broker', 'mqtt://127.0.0.1:1', ...patient];
  const good = await runCli(['scan', ...views((view) => phantom[view].path), ...common]);
  assert.equal(good.code, 0, good.stderr);

  const damaged = join(folder, 'cut.mp4');
  const bytes = readFileSync(clip('ivc/ivc-trans-collapsing.mp4'));
  writeFileSync(damaged, bytes.subarray(0, bytes.length >> 2));
  const unreadable = join(folder, 'text.mov');
  copyFileSync(new URL(import.meta.url), unreadable);
  for (const bad of [damaged, unreadable]) {
    const result = await runCli([
      'scan',
      ...views((view) => (view === 'ivc' ? bad : phantom[view].path)),
      ...common,
    ]);
    assert.equal(result.code, 1, `${bad}: exit ${result.code}\n${result.stderr}`);
    // Warnings are JSON log lines. The error for the operator is the one plain line.
    const message = result.stderr.split('\n').filter((line) => line.startsWith('bv-edge: '));
    assert.equal(message.length, 1, `no one-line error:\n${result.stderr}`);
    assert.ok(message[0]!.includes(bad), `${bad}: the error does not name it: ${message[0]}`);
    assert.ok(!/^\s+at /m.test(result.stderr), `stack trace printed:\n${result.stderr}`);
  }

  const db = new Database(join(dataDir, 'bv-edge.sqlite'), { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const row = db.prepare('select count(*) as n from cases').get() as { n: number };
    assert.equal(row.n, 1, 'the stored case was lost or a damaged scan was stored');
  } finally {
    db.close();
  }
});
