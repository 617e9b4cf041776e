import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { z } from 'zod';
import { VIEW_NAMES, type ViewName } from '../core/image.ts';
import type { Logger } from '../core/log.ts';
import { generatePhantomClip, type PhantomTruth } from './clip.ts';
import { drawPhysiology } from './physiology.ts';
import { deriveSeed, mulberry32 } from './random.ts';
import { writeVideo } from './video.ts';

/** Bump when the rendering changes, so that clips written by an older version are regenerated. */
const PHANTOM_VERSION = 1;

export interface DemoClipOptions {
  /** True over normal blood volume; default 0.85, a mild hypovolaemic state. */
  volumeState?: number;
  /** Default 6 s at 30 fps, 320×240. */
  seconds?: number;
  fps?: number;
  width?: number;
  height?: number;
  seed?: number;
  logger?: Logger;
}

export interface PhantomClipFile {
  path: string;
  truth: PhantomTruth;
}

const DEFAULTS = { volumeState: 0.85, seconds: 6, fps: 30, width: 320, height: 240, seed: 1962 };

const point = z.object({ x: z.number(), y: z.number() });

const truthSchema = z.object({
  centre: point,
  apDiameterMaxPx: z.number(),
  apDiameterMinPx: z.number(),
  collapsibilityIndex: z.number(),
  areaMeanPx: z.number(),
  equivalentDiameterMaxPx: z.number(),
  heartRateBpm: z.number(),
  respiratoryRateBpm: z.number(),
  mmPerPixel: z.number(),
  apDiameterSeriesPx: z.array(z.number()),
  areaSeriesPx: z.array(z.number()),
});

/** Size and SHA-256 of a clip as written, which tell a damaged or replaced clip from a sound one. */
const videoDigestSchema = z.object({ size: z.number(), sha256: z.string() });
type VideoDigest = z.infer<typeof videoDigestSchema>;

/**
 * The truth file: the truth fields at the top level, plus what generated the clip and the digest
 * of the clip file.
 */
const truthFileSchema = truthSchema.extend({
  view: z.enum(VIEW_NAMES),
  generator: z.unknown(),
  video: videoDigestSchema,
});

type Generator = typeof DEFAULTS & { view: ViewName; phantomVersion: number };

/**
 * Returns the stored truth when the clip and a truth file from the same generator both exist and
 * the clip still has the size and SHA-256 recorded when it was written. A truncated or otherwise
 * damaged clip is logged and returns null, so that it is generated again.
 */
async function readExisting(
  videoPath: string,
  truthPath: string,
  generator: Generator,
  logger: Logger | undefined,
): Promise<PhantomTruth | null> {
  if (!existsSync(videoPath) || !existsSync(truthPath)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(truthPath, 'utf8'));
  } catch {
    // A truncated or hand-edited truth file is regenerated like a missing one.
    return null;
  }
  const parsed = truthFileSchema.safeParse(raw);
  if (!parsed.success || !isDeepStrictEqual(parsed.data.generator, generator)) return null;
  const actual = await digestFile(videoPath);
  if (!isDeepStrictEqual(actual, parsed.data.video)) {
    logger?.warn(
      { path: videoPath, expected: parsed.data.video, actual },
      'phantom clip damaged; generating it again',
    );
    return null;
  }
  // Parsing with the truth schema drops the view, generator and video fields.
  return truthSchema.parse(parsed.data);
}

async function digestFile(path: string): Promise<VideoDigest> {
  const bytes = await readFile(path);
  return { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFile(`${path}.partial`, `${JSON.stringify(value, null, 2)}\n`);
  await rename(`${path}.partial`, path);
}

/**
 * Makes sure `dir` contains the four demo clips (`<view>.mp4`) of one phantom patient with their
 * truth (`<view>.truth.json`), generating whatever is missing, damaged or made with other options.
 * The views share the patient's heart and breathing rates.
 */
export async function ensurePhantomClips(
  dir: string,
  options: DemoClipOptions = {},
): Promise<Record<ViewName, PhantomClipFile>> {
  const settings = {
    volumeState: options.volumeState ?? DEFAULTS.volumeState,
    seconds: options.seconds ?? DEFAULTS.seconds,
    fps: options.fps ?? DEFAULTS.fps,
    width: options.width ?? DEFAULTS.width,
    height: options.height ?? DEFAULTS.height,
    seed: options.seed ?? DEFAULTS.seed,
  };
  await mkdir(dir, { recursive: true });
  const patient = drawPhysiology(mulberry32(deriveSeed(settings.seed, 0)), settings.volumeState);
  const clips = {} as Record<ViewName, PhantomClipFile>;
  for (const [i, view] of VIEW_NAMES.entries()) {
    const path = join(dir, `${view}.mp4`);
    const truthPath = join(dir, `${view}.truth.json`);
    const generator: Generator = { ...settings, view, phantomVersion: PHANTOM_VERSION };
    const existing = await readExisting(path, truthPath, generator, options.logger);
    if (existing) {
      clips[view] = { path, truth: existing };
      continue;
    }
    const clip = generatePhantomClip({
      ...settings,
      view,
      seed: deriveSeed(settings.seed, i + 1),
      heartRateBpm: patient.heartRateBpm,
      respiratoryRateBpm: patient.respiratoryRateBpm,
    });
    await writeVideo(clip.frames, settings.fps, path);
    const video = await digestFile(path);
    await writeJsonAtomic(truthPath, { ...clip.truth, view, generator, video });
    options.logger?.info({ view, path, frames: clip.frames.length }, 'phantom clip written');
    clips[view] = { path, truth: clip.truth };
  }
  return clips;
}
