import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { BvEdgeError } from '../src/core/errors.ts';
import { VIEW_NAMES, type GrayFrame } from '../src/core/image.ts';
import {
  ensurePhantomClips,
  generatePhantomClip,
  writeVideo,
  type PhantomClipOptions,
} from '../src/phantom/index.ts';

const run = promisify(execFile);

const tempDirs: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bv-edge-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function framesDigest(frames: readonly GrayFrame[]): string {
  const hash = createHash('sha256');
  for (const frame of frames) hash.update(frame.data);
  return hash.digest('hex');
}

const SMALL: Omit<PhantomClipOptions, 'view' | 'volumeState' | 'seed'> = {
  seconds: 2,
  fps: 15,
  width: 160,
  height: 120,
};

/**
 * Decodes a video with gst-launch-1.0 (filesrc ! decodebin ! videoconvert) to raw GRAY8 and
 * returns the frame count. GRAY8 rows are padded to 4 bytes, so the frame size is stride × height.
 */
async function decodeFrameCount(
  path: string,
  width: number,
  height: number,
): Promise<{ count: number; raw: Buffer }> {
  const { stdout } = await run(
    'gst-launch-1.0',
    [
      '-q',
      'filesrc',
      `location=${path}`,
      '!',
      'decodebin',
      '!',
      'videoconvert',
      '!',
      `video/x-raw,format=GRAY8,width=${width},height=${height}`,
      '!',
      'fdsink',
      'fd=1',
    ],
    { encoding: 'buffer', maxBuffer: 1 << 30 },
  );
  const frameBytes = Math.ceil(width / 4) * 4 * height;
  assert.equal(
    stdout.length % frameBytes,
    0,
    `decoded ${stdout.length} bytes, not whole ${width}x${height} frames`,
  );
  return { count: stdout.length / frameBytes, raw: stdout };
}

/** Reads frame size and rate from the caps the decoder negotiated with the sink. */
async function decodedCaps(
  path: string,
): Promise<{ width: number; height: number; framerate: string }> {
  const { stdout } = await run('gst-launch-1.0', [
    '-v',
    'filesrc',
    `location=${path}`,
    '!',
    'decodebin',
    '!',
    'videoconvert',
    '!',
    'video/x-raw,format=GRAY8',
    '!',
    'fakesink',
  ]);
  const caps = stdout
    .split('\n')
    .find((line) => line.includes('GstFakeSink') && line.includes('caps = video/x-raw'));
  assert.ok(caps, `no sink caps in gst-launch output:\n${stdout.slice(0, 2000)}`);
  const field = (name: string): string => {
    const match = new RegExp(`${name}=\\([a-z]+\\)([0-9/]+)`).exec(caps);
    assert.ok(match, `no ${name} in caps ${caps}`);
    return match[1]!;
  };
  return {
    width: Number(field('width')),
    height: Number(field('height')),
    framerate: field('framerate'),
  };
}

test('same seed gives the same clip', () => {
  const options = { ...SMALL, view: 'ijv' as const, volumeState: 0.9, seed: 42 };
  const first = generatePhantomClip(options);
  const second = generatePhantomClip(options);
  assert.equal(framesDigest(second.frames), framesDigest(first.frames));
  assert.deepEqual(second.truth, first.truth);
  assert.deepEqual(second.timestampsS, first.timestampsS);
  const other = generatePhantomClip({ ...options, seed: 43 });
  assert.notEqual(framesDigest(other.frames), framesDigest(first.frames));
});

test('clip has the requested size and times', () => {
  const clip = generatePhantomClip({ ...SMALL, view: 'ca', volumeState: 1, seed: 1 });
  assert.equal(clip.frames.length, 30);
  assert.equal(clip.timestampsS.length, 30);
  assert.ok(Math.abs(clip.timestampsS[29]! - 29 / 15) < 1e-12, `last time ${clip.timestampsS[29]}`);
  for (const frame of clip.frames) {
    assert.equal(frame.width, 160);
    assert.equal(frame.height, 120);
    assert.equal(frame.channels, 1);
    assert.equal(frame.data.length, 160 * 120);
  }
});

test('low volume collapses veins more', () => {
  for (const view of ['ijv', 'scv', 'ivc'] as const) {
    const low = generatePhantomClip({ ...SMALL, seconds: 6, view, volumeState: 0.75, seed: 8 });
    const high = generatePhantomClip({ ...SMALL, seconds: 6, view, volumeState: 1.15, seed: 8 });
    const lowCi = low.truth.collapsibilityIndex;
    const highCi = high.truth.collapsibilityIndex;
    assert.ok(lowCi > highCi + 0.1, `${view}: CI ${lowCi} at 0.75, ${highCi} at 1.15`);
    assert.ok(low.truth.heartRateBpm > high.truth.heartRateBpm, `${view}: heart rate`);
  }
});

test('IVC collapses more than IJV and SCV', () => {
  const meanCi = (view: 'ijv' | 'scv' | 'ivc'): number => {
    const seeds = [1, 2, 3, 4, 5, 6];
    const total = seeds.reduce((sum, seed) => {
      const clip = generatePhantomClip({
        ...SMALL,
        seconds: 6,
        fps: 10,
        view,
        volumeState: 0.9,
        seed,
      });
      return sum + clip.truth.collapsibilityIndex;
    }, 0);
    return total / seeds.length;
  };
  const ivc = meanCi('ivc');
  const ijv = meanCi('ijv');
  const scv = meanCi('scv');
  assert.ok(ivc > ijv, `IVC ${ivc}, IJV ${ijv}`);
  assert.ok(ivc > scv, `IVC ${ivc}, SCV ${scv}`);
});

test('artery pulses and does not collapse', () => {
  const clip = generatePhantomClip({
    ...SMALL,
    seconds: 4,
    fps: 30,
    view: 'ca',
    volumeState: 0.8,
    seed: 3,
  });
  const ci = clip.truth.collapsibilityIndex;
  assert.ok(ci > 0.01, `carotid diameter change ${ci}`);
  assert.ok(ci < 0.2, `carotid diameter change ${ci}`);
});

test('truth matches the rendered lumen', () => {
  const clip = generatePhantomClip({
    ...SMALL,
    width: 320,
    height: 240,
    view: 'ivc',
    volumeState: 0.8,
    seed: 9,
  });
  const { centre } = clip.truth;
  const column = Math.floor(centre.x);
  clip.frames.forEach((frame, k) => {
    // Count dark pixels along the vertical through the centre: the AP diameter.
    let dark = 0;
    for (let y = 0; y < frame.height; y++) {
      const inside = Math.abs(y + 0.5 - centre.y) < clip.truth.apDiameterMaxPx;
      if (inside && frame.data[y * frame.width + column]! < 25) dark += 1;
    }
    const truth = clip.truth.apDiameterSeriesPx[k]!;
    assert.ok(Math.abs(dark - truth) <= 2, `frame ${k}: ${dark} dark pixels, AP diameter ${truth}`);
  });
});

test('invalid options are rejected', () => {
  const isInvalid = (error: unknown): boolean =>
    error instanceof BvEdgeError && error.code === 'phantom_invalid_option';
  assert.throws(
    () => generatePhantomClip({ ...SMALL, view: 'ivc', volumeState: Number.NaN, seed: 1 }),
    isInvalid,
  );
  assert.throws(
    () => generatePhantomClip({ ...SMALL, view: 'ivc', volumeState: 1, width: 10, seed: 1 }),
    isInvalid,
  );
  assert.throws(
    () => generatePhantomClip({ ...SMALL, view: 'ivc', volumeState: 1, seed: 1.5 }),
    isInvalid,
  );
});

test('writeVideo output decodes with GStreamer', async () => {
  const clip = generatePhantomClip({ ...SMALL, view: 'scv', volumeState: 0.9, seed: 12 });
  const path = join(tempDir('video'), 'scv clip.mp4');
  await writeVideo(clip.frames, SMALL.fps, path);
  const { count, raw } = await decodeFrameCount(path, SMALL.width, SMALL.height);
  assert.equal(count, clip.frames.length);
  assert.deepEqual(await decodedCaps(path), {
    width: SMALL.width,
    height: SMALL.height,
    framerate: `${SMALL.fps}/1`,
  });
  // H.264 is lossy, but the decoded grey levels stay close to the source.
  let error = 0;
  clip.frames.forEach((frame, k) => {
    for (let i = 0; i < frame.data.length; i++)
      error += Math.abs(raw[k * frame.data.length + i]! - frame.data[i]!);
  });
  const meanError = error / (count * SMALL.width * SMALL.height);
  assert.ok(meanError < 8, `mean absolute error ${meanError} grey levels`);
});

test('writeVideo rejects bad frames', async () => {
  const path = join(tempDir('video-bad'), 'bad.mp4');
  const odd: GrayFrame = { width: 15, height: 10, channels: 1, data: new Uint8Array(150) };
  await assert.rejects(
    writeVideo([odd], 30, path),
    (error: unknown) => error instanceof BvEdgeError && error.code === 'video_invalid_input',
  );
  await assert.rejects(
    writeVideo([], 30, path),
    (error: unknown) => error instanceof BvEdgeError && error.code === 'video_invalid_input',
  );
});

test('ensurePhantomClips writes and reuses clips', async () => {
  const dir = tempDir('phantom-clips');
  const options = { seconds: 1, fps: 10, width: 160, height: 120 };
  const clips = await ensurePhantomClips(dir, options);
  for (const view of VIEW_NAMES) {
    const { path, truth } = clips[view];
    assert.equal(path, join(dir, `${view}.mp4`));
    const stored = JSON.parse(readFileSync(join(dir, `${view}.truth.json`), 'utf8')) as {
      collapsibilityIndex: number;
      view: string;
    };
    assert.equal(stored.collapsibilityIndex, truth.collapsibilityIndex);
    assert.equal(stored.view, view);
    const { count } = await decodeFrameCount(path, 160, 120);
    assert.equal(count, 10);
  }
  const shared = new Set(VIEW_NAMES.map((view) => clips[view].truth.heartRateBpm));
  assert.equal(shared.size, 1, 'views of one patient share the heart rate');

  const written = statSync(clips.ivc.path).mtimeMs;
  const again = await ensurePhantomClips(dir, options);
  assert.equal(statSync(again.ivc.path).mtimeMs, written, 'existing clip was rewritten');
  assert.deepEqual(again.ivc.truth, clips.ivc.truth);

  writeFileSync(join(dir, 'ivc.truth.json'), '{ truncated');
  const repaired = await ensurePhantomClips(dir, options);
  assert.deepEqual(repaired.ivc.truth, clips.ivc.truth);

  // A clip cut short, as by a power loss or a full disk, is generated again.
  const soundSize = statSync(clips.ijv.path).size;
  truncateSync(clips.ijv.path, 1000);
  const regenerated = await ensurePhantomClips(dir, options);
  assert.equal(statSync(regenerated.ijv.path).size, soundSize, 'the clip has its full size');
  const { count: ijvFrames } = await decodeFrameCount(regenerated.ijv.path, 160, 120);
  assert.equal(ijvFrames, 10);

  const other = await ensurePhantomClips(dir, { ...options, volumeState: 1.1 });
  assert.notEqual(other.ivc.truth.collapsibilityIndex, clips.ivc.truth.collapsibilityIndex);
});
