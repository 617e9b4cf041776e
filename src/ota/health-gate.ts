import { BvEdgeError } from '../core/errors.ts';
import type { InferenceEngine } from '../inference/engine.ts';
import { loadTestVector, runTestVector } from '../inference/test-vector.ts';
import { checkVectorInRange } from '../inference/validate-range.ts';
import { formatViolation } from '../inference/violation.ts';

/** Error codes of engine calls that mean the model itself misbehaved, not its caller. */
const MODEL_FAULT_CODES = new Set([
  'model_output_invalid',
  'estimate_invalid',
  'estimate_out_of_range',
  'model_run_failed',
]);

export type GateResult =
  | { passed: true; inferences: number }
  | { passed: false; code: string; reason: string; inferences: number };

/**
 * Decides whether a newly activated bundle is healthy: its test vector passes on the engine
 * that serves cases, and then its first `required` inferences (view and fusion runs) on live data
 * are finite and in the manifest's plausible range. The engine already rejects such outputs, so
 * no bad value reaches an estimate; the gate turns the first rejection into a rollback.
 */
export class HealthGate {
  readonly result: Promise<GateResult>;
  /** The engine to give the workflow; it reports every inference to this gate. */
  readonly engine: InferenceEngine;
  private settle!: (result: GateResult) => void;
  private counted = 0;
  private settled = false;

  constructor(
    private readonly target: InferenceEngine,
    private readonly required: number,
  ) {
    this.result = new Promise((resolve) => (this.settle = resolve));
    this.engine = this.observe(target);
  }

  get inferences(): number {
    return this.counted;
  }

  /**
   * Runs the bundle's test vector on the live engine. A mismatch, or an expected estimate
   * outside the manifest's plausibleRangeMl, fails the gate and is returned as its reason; null
   * when the vector passed.
   */
  async runTestVector(): Promise<string | null> {
    let reason: string | null = null;
    try {
      const vector = await loadTestVector(this.target.bundle);
      const outOfRange = checkVectorInRange(this.target.bundle.manifest, vector);
      const report = await runTestVector(this.target, vector);
      if (outOfRange) {
        reason = `the test vector's estimate is outside the plausible range: ${formatViolation(outOfRange)}`;
      } else if (!report.passed) {
        reason = `the test vector fails on the live runtime: ${report.mismatches.join('; ')}`;
      }
    } catch (error) {
      reason = `the test vector could not run: ${(error as Error).message}`;
    }
    if (reason !== null) this.fail('test_vector_failed', reason);
    return reason;
  }

  /** Ends the gate without a verdict, e.g. when the daemon stops; `result` never settles then. */
  cancel(): void {
    this.settled = true;
  }

  private fail(code: string, reason: string): void {
    if (this.settled) return;
    this.settled = true;
    this.settle({ passed: false, code, reason, inferences: this.counted });
  }

  private record(outcome: { error?: unknown }): void {
    if (this.settled) return;
    const { error } = outcome;
    if (error === undefined) {
      this.counted += 1;
      if (this.counted >= this.required) {
        this.settled = true;
        this.settle({ passed: true, inferences: this.counted });
      }
      return;
    }
    // An invalid input (missing view, bad covariates) is the caller's fault and proves nothing.
    if (error instanceof BvEdgeError && MODEL_FAULT_CODES.has(error.code)) {
      this.counted += 1;
      this.fail(error.code, `inference ${this.counted} on live data failed: ${error.message}`);
    }
  }

  /**
   * Wraps the engine so that runView and runFusion report their outcome here. InferenceEngine's
   * constructor is private, so a Proxy replaces a subclass; every other member is the
   * engine's own, called on the engine itself.
   */
  private observe(engine: InferenceEngine): InferenceEngine {
    const observed = new Set<PropertyKey>(['runView', 'runFusion']);
    return new Proxy(engine, {
      get: (target, property) => {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        if (!observed.has(property)) return method.bind(target);
        return async (...args: unknown[]) => {
          try {
            const result = await method.apply(target, args);
            this.record({});
            return result;
          } catch (error) {
            this.record({ error });
            throw error;
          }
        };
      },
    });
  }
}
