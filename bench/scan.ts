/**
 * The one-shot scan path (runScan: decode, vessel tracking, view models and fusion) on the four
 * phantom clips of one patient, timed against the clips' total duration.
 */
import { join } from 'node:path';
import { VIEW_NAMES } from '../src/core/image.ts';
import { silentLogger } from '../src/core/log.ts';
import type { InferenceEngine } from '../src/inference/engine.ts';
import { ensurePhantomClips } from '../src/phantom/index.ts';
import { runScan } from '../src/scan/scan.ts';
import type { Covariates, ScanRecord } from '../src/scan/types.ts';
import { median } from './stats.ts';

const COVARIATES: Covariates = { heightCm: 172, weightKg: 70, sex: 'male', ageYears: 54 };

export interface ScanTiming {
  /** Length of each view's clip, s. */
  clipSeconds: number;
  /** Sum of the four clips' durations as the scan decoded them, s. */
  totalDurationS: number;
  /** Median wall time of one four-view scan, ms. */
  processingMs: number;
  repeats: number;
  /** The last scan, for benchmarks that store a real record. */
  record: ScanRecord;
}

/**
 * Generates four phantom clips of `clipSeconds` each under `dir` (320×240 at 30 frames per
 * second, the phantom default) and times `repeats` scans of them, after `warmUps` untimed scans
 * that take the engine's first-run costs. Clip generation is not timed.
 */
export async function measureFourViewScan(
  engine: InferenceEngine,
  dir: string,
  clipSeconds: number,
  repeats: number,
  warmUps = 0,
): Promise<ScanTiming> {
  const clips = await ensurePhantomClips(join(dir, `phantom-${clipSeconds}s`), {
    seconds: clipSeconds,
  });
  const views = VIEW_NAMES.map((view) => ({
    view,
    path: clips[view].path,
    mmPerPixel: clips[view].truth.mmPerPixel,
  }));
  const logger = silentLogger();
  for (let i = 0; i < warmUps; i++) {
    await runScan({ covariates: COVARIATES, hbPreopGdl: 13, views }, engine, logger);
  }
  const times: number[] = [];
  let record: ScanRecord | null = null;
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    record = await runScan({ covariates: COVARIATES, hbPreopGdl: 13, views }, engine, logger);
    times.push(performance.now() - started);
  }
  const totalDurationS = record!.views.reduce((sum, view) => sum + view.durationS, 0);
  return { clipSeconds, totalDurationS, processingMs: median(times), repeats, record: record! };
}
