import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/** Real scanner clips, read in place and never copied into the repository. */
export const ultrasoundDir =
  process.env.BV_EDGE_ULTRASOUND_DIR ?? resolve(repoRoot, '../shared/data/ultrasound');

/** A skip reason for node:test when the real clips are absent, or false when they are there. */
export const realClipsSkip: string | false = existsSync(ultrasoundDir)
  ? false
  : `real ultrasound clips not found at ${ultrasoundDir}; set BV_EDGE_ULTRASOUND_DIR to run this test`;

export function clip(relativePath: string): string {
  return resolve(ultrasoundDir, relativePath);
}
