import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { InferenceEngine } from '../inference/engine.ts';
import type { StatusSnapshot } from './types.ts';

/**
 * Upper bounds of the inference latency buckets, s. They span a view model on a GPU (a few ms) to
 * the fusion model plus a view model on a slow CPU (about a second).
 */
const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Prometheus metrics of one daemon, in a registry of their own so that two daemons in one
 * process (tests) do not share series. Gauges read the status snapshot when scraped.
 */
export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly inferenceSeconds: Histogram<'model'>;
  private readonly estimates: Counter;

  constructor(readStatus: () => StatusSnapshot) {
    const registers = [this.registry];
    new Gauge({
      name: 'bv_edge_capture_fps',
      help: 'Measured capture frame rate, frames per second.',
      registers,
      collect() {
        this.set(readStatus().capture?.fps ?? 0);
      },
    });
    new Counter({
      name: 'bv_edge_capture_dropped_frames_total',
      help: 'Frames dropped since capture started because the daemon fell behind.',
      registers,
      collect() {
        // The capture service counts the drops, so the counter is set to its count.
        this.reset();
        this.inc(readStatus().capture?.framesDropped ?? 0);
      },
    });
    new Gauge({
      name: 'bv_edge_outbox_depth',
      help: 'Messages in the outbox that the MQTT broker has not acknowledged yet.',
      registers,
      collect() {
        this.set(readStatus().outbox.depth);
      },
    });
    new Gauge({
      name: 'bv_edge_mqtt_connected',
      help: '1 while the MQTT broker is connected, else 0.',
      registers,
      collect() {
        this.set(readStatus().mqttConnected ? 1 : 0);
      },
    });
    this.inferenceSeconds = new Histogram({
      name: 'bv_edge_inference_duration_seconds',
      help: 'Time of one model run in the inference worker, including the transfer, s.',
      labelNames: ['model'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.estimates = new Counter({
      name: 'bv_edge_estimates_total',
      help: 'Blood volume estimates stored and queued for the central server since start.',
      registers,
    });
  }

  countEstimate(): void {
    this.estimates.inc();
  }

  observeInference(model: string, seconds: number): void {
    this.inferenceSeconds.observe({ model }, seconds);
  }

  /**
   * Times every view and fusion run of `engine` by wrapping its two run methods on this instance.
   * NOTE: the engine has no timing hook of its own; if it gains one, use it in place of this.
   */
  instrument(engine: InferenceEngine): void {
    const runView = engine.runView.bind(engine);
    const runFusion = engine.runFusion.bind(engine);
    engine.runView = async (view, clip) => {
      const stop = this.inferenceSeconds.startTimer({ model: view });
      try {
        return await runView(view, clip);
      } finally {
        stop();
      }
    };
    engine.runFusion = async (features, covariates) => {
      const stop = this.inferenceSeconds.startTimer({ model: 'fusion' });
      try {
        return await runFusion(features, covariates);
      } finally {
        stop();
      }
    };
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
