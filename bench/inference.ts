/**
 * Inference benchmark. Prints figures and checks nothing:
 *   1. per-model latency p50 and p95 through the engine (worker thread, with its input and output
 *      checks) against a bare session.run loop on the same model in this thread, and their ratio;
 *   2. event-loop delay of the main thread while each of those loops runs;
 *   3. time from the last frame of the last view to a stored estimate: analysis of that view's
 *      decoded clip, fusion, and the SQLite transaction with the outbox message.
 *
 *   node --import tsx bench/inference.ts [--bundle DIR] [--runs N] [--slow-fixture]
 *
 * --slow-fixture adds the test fixture bundle whose ivc model takes tens of milliseconds, closer
 * to a trained video model than the reference bundle's lumen models.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as ort from 'onnxruntime-node';
import { VIEW_NAMES, type Clip, type ViewName } from '../src/core/image.ts';
import { silentLogger } from '../src/core/log.ts';
import { loadBundle, type ModelBundle } from '../src/inference/bundle.ts';
import { InferenceEngine, type ModelKey } from '../src/inference/engine.ts';
import { bundleModels, onnxruntimeVersion } from '../src/inference/load.ts';
import { FUSION_INPUT_NAMES } from '../src/inference/manifest.ts';
import { createSession, toFeeds } from '../src/inference/sessions.ts';
import { loadTestVector, testVectorClip, type TestVector } from '../src/inference/test-vector.ts';
import { estimateMessage } from '../src/mqtt/payload.ts';
import { defaultTopicBase, estimatesTopic } from '../src/mqtt/topics.ts';
import { generatePhantomClip } from '../src/phantom/clip.ts';
import { estimateFromViews } from '../src/scan/scan.ts';
import type { Covariates, ScanRecord, ViewResult } from '../src/scan/types.ts';
import { analyseClip } from '../src/scan/view-scan.ts';
import { openDatabase, saveScan, type Store } from '../src/store/index.ts';
import { buildSmallBundle } from '../tests/fixtures/small-bundle.ts';
import { isMainModule } from './main-module.ts';
import { formatMs, summarise as summary, timed, type Summary } from './stats.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

/** Runs before timing starts, so that lazy allocations in both paths are done. */
const WARM_UP_RUNS = 10;
/** Runs alternate between the two paths in blocks of this size, so that drift hits both. */
const BLOCK = 20;
/** Length of each event-loop delay measurement, ms. */
const DELAY_WINDOW_MS = 2000;
/** Sampling interval of monitorEventLoopDelay, ms. */
const DELAY_RESOLUTION_MS = 1;
const LAST_VIEW_REPEATS = 5;
const COVARIATES: Covariates = { heightCm: 172, weightKg: 70, sex: 'male', ageYears: 54 };

type Feeds = Record<string, { data: Float32Array; dims: number[] }>;

export interface ModelCase {
  key: ModelKey;
  file: string;
  /** One run through the engine, as the daemon calls it. */
  viaEngine: () => Promise<unknown>;
  feeds: Feeds;
}

function ms(value: number): string {
  return formatMs(value).padStart(8);
}

function vectorFeatures(vector: TestVector): Partial<Record<ViewName, Float32Array>> {
  const features: Partial<Record<ViewName, Float32Array>> = {};
  for (const [view, values] of Object.entries(vector.fusion.viewFeatures)) {
    features[view as ViewName] = Float32Array.from(values);
  }
  return features;
}

/** Builds the fusion feeds the way the engine does, for the bare loop. */
function fusionFeeds(bundle: ModelBundle, vector: TestVector): Feeds {
  const { viewOrder } = bundle.manifest.fusion;
  const count = bundle.manifest.views[viewOrder[0]!].output.featureNames.length;
  const packed = new Float32Array(viewOrder.length * count);
  const mask = new Float32Array(viewOrder.length);
  viewOrder.forEach((view, i) => {
    const values = vector.fusion.viewFeatures[view];
    if (!values) return;
    packed.set(values, i * count);
    mask[i] = 1;
  });
  const covariates = Float32Array.from(vector.fusion.covariates);
  return {
    [FUSION_INPUT_NAMES.viewFeatures]: { data: packed, dims: [1, viewOrder.length, count] },
    [FUSION_INPUT_NAMES.viewMask]: { data: mask, dims: [1, viewOrder.length] },
    [FUSION_INPUT_NAMES.covariates]: { data: covariates, dims: [1, covariates.length] },
  };
}

export function modelCases(
  bundle: ModelBundle,
  engine: InferenceEngine,
  vector: TestVector,
): ModelCase[] {
  const { manifest } = bundle;
  const cases: ModelCase[] = VIEW_NAMES.map((view) => {
    const spec = manifest.views[view];
    const clip = testVectorClip(vector, view, spec.input);
    return {
      key: view,
      file: spec.file,
      viaEngine: () => engine.runView(view, clip),
      feeds: { [spec.input.name]: { data: clip, dims: spec.input.shape } },
    };
  });
  const features = vectorFeatures(vector);
  const covariates = Float32Array.from(vector.fusion.covariates);
  cases.push({
    key: 'fusion',
    file: manifest.fusion.file,
    viaEngine: () => engine.runFusion(features, covariates),
    feeds: fusionFeeds(bundle, vector),
  });
  return cases;
}

/** Sessions on this thread with the same options the worker uses. */
export async function bareSessions(
  bundle: ModelBundle,
): Promise<Map<ModelKey, ort.InferenceSession>> {
  const settings = {
    tensorrt: { deviceId: 0, fp16: false, engineCachePath: null },
    cudaDeviceId: 0,
  };
  const sessions = new Map<ModelKey, ort.InferenceSession>();
  for (const model of bundleModels(bundle)) {
    sessions.set(model.key, await createSession(model.bytes, ['cpu'], settings));
  }
  return sessions;
}

export interface LatencyRow {
  file: string;
  /** Through the engine: worker thread with its input and output checks, ms. */
  engine: Summary;
  /** Bare session.run on this thread, ms. */
  bare: Summary;
}

/** Times `runs` runs of each model through the engine and through a bare session. */
export async function measureLatency(
  cases: readonly ModelCase[],
  sessions: Map<ModelKey, ort.InferenceSession>,
  runs: number,
): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  for (const model of cases) {
    const session = sessions.get(model.key)!;
    const bare = (): Promise<unknown> => session.run(toFeeds(model.feeds));
    for (let i = 0; i < WARM_UP_RUNS; i++) {
      await model.viaEngine();
      await bare();
    }
    const engineMs: number[] = [];
    const bareMs: number[] = [];
    for (let done = 0; done < runs; done += BLOCK) {
      for (let i = 0; i < BLOCK; i++) engineMs.push(await timed(model.viaEngine));
      for (let i = 0; i < BLOCK; i++) bareMs.push(await timed(bare));
    }
    rows.push({ file: model.file, engine: summary(engineMs), bare: summary(bareMs) });
  }
  return rows;
}

async function printLatency(
  cases: readonly ModelCase[],
  sessions: Map<ModelKey, ort.InferenceSession>,
  runs: number,
): Promise<void> {
  console.log(
    '\nPer-model latency, ms (engine = worker thread with checks; bare = session.run here)',
  );
  console.log('model              engine p50  p95      bare p50  p95      ratio p50  p95');
  for (const row of await measureLatency(cases, sessions, runs)) {
    console.log(
      `${row.file.padEnd(18)} ${ms(row.engine.p50)} ${ms(row.engine.p95)}  ${ms(row.bare.p50)} ` +
        `${ms(row.bare.p95)}  ${(row.engine.p50 / row.bare.p50).toFixed(2).padStart(8)} ` +
        `${(row.engine.p95 / row.bare.p95).toFixed(2).padStart(5)}`,
    );
  }
}

export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Calls completed in the window; 0 for the idle measurement. */
  runs: number;
}

/**
 * Measures the event-loop delay of this thread while `call` runs back to back for
 * DELAY_WINDOW_MS, or while the thread idles when `call` is null.
 */
export async function measureLoopDelay(
  call: (() => Promise<unknown>) | null,
  windowMs = DELAY_WINDOW_MS,
): Promise<LoopDelay> {
  const histogram = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  histogram.enable();
  const end = performance.now() + windowMs;
  let runs = 0;
  while (performance.now() < end) {
    if (call) {
      await call();
      runs += 1;
    } else {
      await new Promise((resolveWait) => setTimeout(resolveWait, 50));
    }
  }
  histogram.disable();
  // The histogram records each sampling interval in nanoseconds, so an idle loop reads about
  // DELAY_RESOLUTION_MS and anything above it is delay.
  return {
    p50Ms: histogram.percentile(50) / 1e6,
    p99Ms: histogram.percentile(99) / 1e6,
    maxMs: histogram.max / 1e6,
    runs,
  };
}

async function loopDelay(call: (() => Promise<unknown>) | null): Promise<string> {
  const delay = await measureLoopDelay(call);
  const figures = `${ms(delay.p50Ms)} ${ms(delay.p99Ms)} ${ms(delay.maxMs)}`;
  return call ? `${figures}   (${delay.runs} runs)` : `${figures}   (no inference)`;
}

async function eventLoop(
  label: string,
  model: ModelCase,
  session: ort.InferenceSession,
): Promise<void> {
  console.log(
    `\nEvent-loop delay of the main thread, ms, ${label} ${model.file}, ${DELAY_WINDOW_MS} ms each`,
  );
  console.log('                        p50      p99      max');
  console.log(`idle               ${await loopDelay(null)}`);
  console.log(`engine (worker)    ${await loopDelay(model.viaEngine)}`);
  console.log(`bare session.run   ${await loopDelay(() => session.run(toFeeds(model.feeds)))}`);
}

/** Phantom clips of every view as live capture would hand them over, decoded, 4 s at 30 fps. */
function phantomClips(): Record<
  ViewName,
  { clip: Clip; seed: { x: number; y: number }; mmPerPixel: number }
> {
  const clips = {} as Record<
    ViewName,
    { clip: Clip; seed: { x: number; y: number }; mmPerPixel: number }
  >;
  for (const [i, view] of VIEW_NAMES.entries()) {
    const phantom = generatePhantomClip({
      view,
      volumeState: 1,
      seconds: 4,
      fps: 30,
      width: 320,
      height: 240,
      seed: 100 + i,
    });
    clips[view] = {
      clip: {
        source: `phantom-${view}`,
        width: 320,
        height: 240,
        channels: 1,
        fps: 30,
        frames: phantom.frames,
        timestampsS: phantom.timestampsS,
      },
      seed: phantom.truth.centre,
      mmPerPixel: phantom.truth.mmPerPixel,
    };
  }
  return clips;
}

async function analyse(
  clips: ReturnType<typeof phantomClips>,
  view: ViewName,
  engine: InferenceEngine,
): Promise<ViewResult> {
  const { clip, seed, mmPerPixel } = clips[view];
  const imageArea = { x: 0, y: 0, width: clip.width, height: clip.height };
  const input = { view, path: clip.source, seed, mmPerPixel, imageArea };
  return analyseClip(clip, input, engine, silentLogger());
}

async function lastFrameToStored(engine: InferenceEngine, store: Store): Promise<void> {
  const clips = phantomClips();
  const lastView = VIEW_NAMES.at(-1)!;
  const earlier: ViewResult[] = [];
  for (const view of VIEW_NAMES.slice(0, -1)) earlier.push(await analyse(clips, view, engine));
  const topic = estimatesTopic(defaultTopicBase('bench', 'bench'));
  const phases = {
    analysis: [] as number[],
    fusion: [] as number[],
    store: [] as number[],
    total: [] as number[],
  };
  for (let repeat = 0; repeat < LAST_VIEW_REPEATS; repeat++) {
    const started = performance.now();
    const last = await analyse(clips, lastView, engine);
    const analysed = performance.now();
    const views = [...earlier, last];
    const estimate = await estimateFromViews(views, COVARIATES, undefined, engine);
    const fused = performance.now();
    const record: ScanRecord = {
      caseId: `bench-${process.pid}-${repeat}`,
      estimateId: crypto.randomUUID(),
      createdAt: new Date().toISOString(),
      covariates: COVARIATES,
      views,
      estimate,
    };
    saveScan(store, record, [{ topic, payload: estimateMessage(record), qos: 1 }]);
    const stored = performance.now();
    phases.analysis.push(analysed - started);
    phases.fusion.push(fused - analysed);
    phases.store.push(stored - fused);
    phases.total.push(stored - started);
  }
  console.log(
    `\nLast frame of the last view (${lastView}, 120 frames 320×240) to a stored estimate, ms, ` +
      `${LAST_VIEW_REPEATS} repeats`,
  );
  console.log('                        p50      max');
  for (const [phase, samples] of Object.entries(phases)) {
    const { p50, max } = summary(samples);
    console.log(`${phase.padEnd(20)} ${ms(p50)} ${ms(max)}`);
  }
}

/** The reference bundle loaded twice: through the engine's worker and as bare sessions here. */
export interface ModelBench {
  label: string;
  engine: InferenceEngine;
  sessions: Map<ModelKey, ort.InferenceSession>;
  cases: ModelCase[];
  close(): Promise<void>;
}

/** Loads the bundle in `dir` for the engine and for bare sessions, with its test vector. */
export async function openModelBench(dir: string): Promise<ModelBench> {
  const bundle = await loadBundle(dir);
  const engine = await InferenceEngine.create(bundle, {
    providers: ['cpu'],
    logger: silentLogger(),
  });
  const sessions = await bareSessions(bundle);
  const close = async (): Promise<void> => {
    await engine.close();
    await Promise.all([...sessions.values()].map((session) => session.release()));
  };
  try {
    const vector = await loadTestVector(bundle);
    return {
      label: `${bundle.manifest.name} ${bundle.manifest.version}`,
      engine,
      sessions,
      cases: modelCases(bundle, engine, vector),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function benchBundle(dir: string, runs: number, store: Store | null): Promise<void> {
  const bench = await openModelBench(dir);
  try {
    console.log(`\n== ${bench.label} (${dir})`);
    await printLatency(bench.cases, bench.sessions, runs);
    const slowest = bench.cases.find((model) => model.key === 'ivc')!;
    await eventLoop('running', slowest, bench.sessions.get('ivc')!);
    if (store) await lastFrameToStored(bench.engine, store);
  } finally {
    await bench.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bundle: { type: 'string' },
      runs: { type: 'string' },
      'slow-fixture': { type: 'boolean' },
    },
  });
  const runs = Math.max(BLOCK, Number(values.runs ?? 200));
  const dir = resolve(values.bundle ?? join(repoRoot, 'models', 'reference'));
  const scratch = mkdtempSync(join(tmpdir(), 'bv-edge-bench-'));
  const store = openDatabase(join(scratch, 'bench.sqlite'), silentLogger());
  console.log(
    `bench/inference.ts: node ${process.version}, onnxruntime-node ${onnxruntimeVersion()}, ` +
      `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, cpu provider, ${runs} runs per path`,
  );
  try {
    await benchBundle(dir, runs, store);
    if (values['slow-fixture']) {
      const fixture = join(scratch, 'slow-fixture');
      await buildSmallBundle(fixture, { slowView: 'ivc' });
      await benchBundle(fixture, Math.max(BLOCK, Math.round(runs / 10)), null);
    }
  } finally {
    store.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
