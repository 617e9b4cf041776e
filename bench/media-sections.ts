/** The capture, inference and scan sections of BENCHMARKS.md. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/core/log.ts';
import { loadBundle } from '../src/inference/bundle.ts';
import { InferenceEngine } from '../src/inference/engine.ts';
import { toFeeds } from '../src/inference/sessions.ts';
import { generatePhantomClip, writeVideo } from '../src/phantom/index.ts';
import type { ScanRecord } from '../src/scan/types.ts';
import { compareCaptureWithGstLaunch } from './capture.ts';
import { measureLatency, measureLoopDelay, openModelBench, type LoopDelay } from './inference.ts';
import { seconds, type Plan } from './plan.ts';
import type { Report } from './report.ts';
import { measureFourViewScan, type ScanTiming } from './scan.ts';
import { formatMs, formatRatio } from './stats.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const ultrasoundDir =
  process.env.BV_EDGE_ULTRASOUND_DIR ?? resolve(repoRoot, '../shared/data/ultrasound');
const REAL_CLIP = 'artery/artery-long-wall-tracking-60fps.mp4';

// --- Capture ----------------------------------------------------------------------------------

/**
 * Writes a 1920×1080 phantom IVC clip at 30 frames per second. Rendering took about 0.4 s per
 * frame at this size on a 2-core AMD EPYC, so a short stretch is rendered and its frames repeat
 * to the full length.
 */
async function writePhantom1080(dir: string, plan: Plan): Promise<string> {
  const clip = generatePhantomClip({
    view: 'ivc',
    volumeState: 1,
    seconds: plan.render1080Seconds,
    fps: 30,
    width: 1920,
    height: 1080,
    seed: 1080,
  });
  const frames = Array.from({ length: plan.render1080Repeats }, () => clip.frames).flat();
  const path = join(dir, 'phantom-ivc-1920x1080.mp4');
  await writeVideo(frames, 30, path);
  return path;
}

async function captureRow(
  label: string,
  path: string,
  clipFrames?: number,
): Promise<(string | number)[]> {
  const result = await compareCaptureWithGstLaunch(path, 1, false, clipFrames);
  return [
    label,
    result.framesPerLoop,
    result.captureFps.toFixed(0),
    result.gstFps.toFixed(0),
    formatRatio(result.captureFps, result.gstFps),
    result.captureCpuMsPerFrame.toFixed(2),
    result.gstCpuMsPerFrame.toFixed(2),
    result.dropped,
  ];
}

export async function captureSection(report: Report, plan: Plan, scratch: string): Promise<void> {
  report.paragraph(
    'The capture service (capture process with its appsink, framed pipe to the daemon, frame ' +
      'checks and ring buffer) decodes each clip once at full speed, timed from its first ' +
      'frame to the end of the clip. The baseline is gst-launch-1.0 running the same pipeline ' +
      'into fakesink, timed by its own "Execution ended after" figure (PLAYING to end of ' +
      'stream). CPU time counts both processes of the capture service, and the whole ' +
      'gst-launch-1.0 process including its start-up. Frames timed: the capture service’s ' +
      'count up to the end of the clip, without the few frames still in flight there.',
  );
  const rows: (string | number)[][] = [];
  const realClip = join(ultrasoundDir, REAL_CLIP);
  if (existsSync(realClip)) {
    rows.push(await captureRow(`real clip ${REAL_CLIP}`, realClip));
  } else {
    report.skipped(
      `real clip ${REAL_CLIP}`,
      `not found under ${ultrasoundDir}; set BV_EDGE_ULTRASOUND_DIR to the clip folder`,
    );
  }
  const started = performance.now();
  const phantom = await writePhantom1080(scratch, plan);
  const rendered = Math.round(plan.render1080Seconds * 30);
  const label =
    `phantom 1920×1080, ${rendered} rendered frames × ${plan.render1080Repeats} ` +
    `(written in ${seconds(performance.now() - started, 0)} s)`;
  rows.push(await captureRow(label, phantom, rendered * plan.render1080Repeats));
  report.table(
    [
      'clip',
      'frames timed',
      'capture frames/s',
      'gst-launch frames/s',
      'ratio',
      'capture CPU ms/frame',
      'gst-launch CPU ms/frame',
      'dropped',
    ],
    rows,
  );
}

// --- Inference --------------------------------------------------------------------------------

export async function inferenceSection(report: Report, plan: Plan): Promise<void> {
  const bench = await openModelBench(join(repoRoot, 'models', 'reference'));
  try {
    report.paragraph(
      `Bundle ${bench.label}, cpu provider, ${plan.inferenceRuns} timed runs per path after ` +
        '10 warm-up runs, alternating in blocks of 20. Engine: the daemon’s InferenceEngine ' +
        '(worker thread with input and output checks); bare: session.run on the main thread ' +
        'with the same session options. Latency in ms.',
    );
    const rows = await measureLatency(bench.cases, bench.sessions, plan.inferenceRuns);
    report.table(
      ['model', 'engine p50', 'engine p95', 'bare p50', 'bare p95', 'ratio p50', 'ratio p95'],
      rows.map((row) => [
        row.file,
        formatMs(row.engine.p50),
        formatMs(row.engine.p95),
        formatMs(row.bare.p50),
        formatMs(row.bare.p95),
        formatRatio(row.engine.p50, row.bare.p50),
        formatRatio(row.engine.p95, row.bare.p95),
      ]),
    );
    const ivc = bench.cases.find((model) => model.key === 'ivc')!;
    const session = bench.sessions.get('ivc')!;
    const idle = await measureLoopDelay(null);
    const viaEngine = await measureLoopDelay(ivc.viaEngine);
    const bare = await measureLoopDelay(() => session.run(toFeeds(ivc.feeds)));
    report.paragraph(
      `Event-loop delay of the main thread, ms, sampled every 1 ms for 2 s while ${ivc.file} ` +
        'runs back to back (an idle loop reads about 1 ms).',
    );
    const delayRow = (label: string, delay: LoopDelay): (string | number)[] => [
      label,
      formatMs(delay.p50Ms),
      formatMs(delay.p99Ms),
      formatMs(delay.maxMs),
      delay.runs,
      formatRatio(delay.p99Ms, idle.p99Ms),
    ];
    report.table(
      ['main thread', 'p50', 'p99', 'max', 'runs', 'p99 / idle p99'],
      [
        delayRow('idle', idle),
        delayRow('engine (worker thread)', viaEngine),
        delayRow('bare session.run', bare),
      ],
    );
  } finally {
    await bench.close();
  }
}

// --- Scan -------------------------------------------------------------------------------------

/** Times four-view scans of each clip length in the plan, with one warm-up scan first. */
async function timeScans(plan: Plan, scratch: string): Promise<ScanTiming[]> {
  const bundle = await loadBundle(join(repoRoot, 'models', 'reference'));
  const engine = await InferenceEngine.create(bundle, {
    providers: ['cpu'],
    logger: silentLogger(),
  });
  const timings: ScanTiming[] = [];
  try {
    for (const [i, clipSeconds] of plan.scanSeconds.entries()) {
      const warmUps = i === 0 ? 1 : 0;
      timings.push(
        await measureFourViewScan(engine, scratch, clipSeconds, plan.scanRepeats, warmUps),
      );
    }
  } finally {
    await engine.close();
  }
  return timings;
}

export async function scanSection(
  report: Report,
  plan: Plan,
  scratch: string,
): Promise<ScanRecord> {
  const timings = await timeScans(plan, scratch);
  report.paragraph(
    'runScan (decode, vessel tracking, the four view models and fusion, as `bv-edge scan` and ' +
      'the demo run it) on four phantom clips of one patient, 320×240 at 30 frames per second, ' +
      `median of ${plan.scanRepeats} scan(s); one untimed scan runs first. Clip generation ` +
      'is not timed. The baseline is the clips’ total duration: a ratio below 1 is faster ' +
      'than real time.',
  );
  report.table(
    ['clip per view, s', 'total duration, s', 'processing, s', 'processing / duration'],
    timings.map((timing) => [
      timing.clipSeconds,
      timing.totalDurationS.toFixed(2),
      seconds(timing.processingMs),
      formatRatio(timing.processingMs / 1000, timing.totalDurationS),
    ]),
  );

  const first = timings[0]!;
  const last = timings.at(-1)!;
  const lengthFactor = last.totalDurationS / first.totalDurationS;
  const timeFactor = last.processingMs / first.processingMs;
  // A line through the shortest and longest clips splits the processing time into a fixed part
  // per scan and a part per second of video.
  const perSecondMs =
    (last.processingMs - first.processingMs) / (last.totalDurationS - first.totalDurationS);
  const fixedMs = first.processingMs - perSecondMs * first.totalDurationS;
  report.paragraph(
    `Growth with clip length: ${lengthFactor.toFixed(1)}× the duration took ` +
      `${timeFactor.toFixed(2)}× the processing time (growth factor per unit of length ` +
      `${(timeFactor / lengthFactor).toFixed(2)}; 1.00 is linear). A line through the shortest ` +
      `and longest rows gives ${seconds(fixedMs)} s per scan plus ` +
      `${formatMs(perSecondMs)} ms per second of video.`,
  );
  return last.record;
}
