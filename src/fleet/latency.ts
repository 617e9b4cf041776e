import type { InferenceEngine } from '../inference/engine.ts';

/** Runs kept per model kind for the percentiles. */
const DEFAULT_WINDOW = 200;

export type LatencyKind = 'view' | 'fusion';

export interface LatencySummary {
  /** Runs in the window that the percentiles cover. */
  count: number;
  /** Median latency, ms; null before the first run. */
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Latencies of the most recent inference runs, per model kind, for telemetry. */
export class LatencyRecorder {
  private readonly samples: Record<LatencyKind, number[]> = { view: [], fusion: [] };

  constructor(private readonly window = DEFAULT_WINDOW) {}

  record(kind: LatencyKind, milliseconds: number): void {
    const samples = this.samples[kind];
    samples.push(milliseconds);
    if (samples.length > this.window) samples.shift();
  }

  summary(kind: LatencyKind): LatencySummary {
    const sorted = [...this.samples[kind]].sort((a, b) => a - b);
    return {
      count: sorted.length,
      p50Ms: percentile(sorted, 0.5),
      p95Ms: percentile(sorted, 0.95),
    };
  }
}

/** Nearest-rank percentile of ascending `sorted`, rounded to 0.01 ms; null when empty. */
export function percentile(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return Math.round(sorted[rank - 1]! * 100) / 100;
}

/**
 * Returns a view of `engine` whose runView and runFusion calls are timed into `recorder`,
 * failed runs included. Every other member is the engine's own. An engine that replaces this
 * one must be wrapped again.
 */
export function instrumentEngine(
  engine: InferenceEngine,
  recorder: LatencyRecorder,
): InferenceEngine {
  const timed =
    <A extends unknown[], R>(kind: LatencyKind, run: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      try {
        return await run(...args);
      } finally {
        recorder.record(kind, performance.now() - started);
      }
    };
  const runView = timed('view', engine.runView.bind(engine));
  const runFusion = timed('fusion', engine.runFusion.bind(engine));
  return new Proxy(engine, {
    get(target, property) {
      if (property === 'runView') return runView;
      if (property === 'runFusion') return runFusion;
      // Getters and methods run on the engine itself, so its private members resolve.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
