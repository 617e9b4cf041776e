import { Worker } from 'node:worker_threads';
import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type {
  ResponseValues,
  SessionStartingEvent,
  WorkerFailure,
  WorkerRequest,
  WorkerResponse,
} from './worker-protocol.ts';

const WORKER_MODULE = new URL('./worker.ts', import.meta.url);

/** How long stop() waits for the worker to release its sessions before terminating it, ms. */
const STOP_TIMEOUT_MS = 10_000;

/** A request without its id; the client numbers requests itself. */
type RequestBody<K extends WorkerRequest['type']> = Omit<Extract<WorkerRequest, { type: K }>, 'id'>;

interface Pending {
  resolve: (value: ResponseValues[WorkerRequest['type']]) => void;
  reject: (error: Error) => void;
}

/** A request that failed in the worker; `value` carries the worker's failure. */
export class WorkerRequestError extends BvEdgeError {
  declare readonly value: WorkerFailure;

  constructor(failure: WorkerFailure) {
    super('inference_worker_request_failed', failure.message, { value: failure });
  }
}

/**
 * Source of the worker bootstrap. The worker module is TypeScript, and Node 20 does not carry the
 * tsx loader that `--import tsx` registered on the main thread into worker threads, so the
 * bootstrap registers tsx's ESM loader before importing the module.
 */
function bootstrapSource(): string {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  return (
    `import(${JSON.stringify(tsxApi)})` +
    `.then(({ register }) => { register(); return import(${JSON.stringify(WORKER_MODULE.href)}); });`
  );
}

/**
 * The main-thread side of the inference worker: starts the thread, numbers requests, matches
 * responses to them, and rejects every pending request if the thread fails or exits.
 */
export class InferenceWorker {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stopping = false;
  /** Set once the thread has failed or exited on its own; every later request rejects with it. */
  private failure: BvEdgeError | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly onSessionStarting: (event: SessionStartingEvent) => void,
  ) {}

  /** Starts the thread; requests sent before it has loaded its modules wait in its queue. */
  async start(): Promise<void> {
    const worker = new Worker(bootstrapSource(), { eval: true, name: 'bv-edge-inference' });
    worker.on('message', (message: WorkerResponse) => this.onMessage(message));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => {
      if (!this.stopping) this.fail(new Error(`the inference worker exited with code ${code}`));
    });
    this.worker = worker;
  }

  request<K extends WorkerRequest['type']>(body: RequestBody<K>): Promise<ResponseValues[K]> {
    const worker = this.worker;
    if (this.failure) return Promise.reject(this.failure);
    if (!worker || this.stopping) {
      return Promise.reject(
        new BvEdgeError('engine_closed', 'The inference engine is closed; create a new one.'),
      );
    }
    const id = this.nextId++;
    return new Promise<ResponseValues[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as Pending['resolve'], reject });
      worker.postMessage({ ...body, id });
    });
  }

  /**
   * Lets the thread release its sessions, then ends it; requests still pending reject. Safe to
   * call twice.
   */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker || this.stopping) return;
    if (!this.failure) await this.closeSessions();
    this.stopping = true;
    await worker.terminate();
    this.worker = null;
    this.rejectPending(
      new BvEdgeError('engine_closed', 'The inference engine closed before the request finished.'),
    );
  }

  private async closeSessions(): Promise<void> {
    const closed = this.request<'close'>({ type: 'close' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.logger.warn(
          { timeoutMs: STOP_TIMEOUT_MS },
          'inference worker did not release its sessions in time; terminating it',
        );
        resolve();
      }, STOP_TIMEOUT_MS);
    });
    await Promise.race([closed.catch(() => undefined), timeout]);
    clearTimeout(timer);
  }

  private onMessage(message: WorkerResponse): void {
    if (message.type === 'session-starting') {
      this.onSessionStarting(message);
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(new WorkerRequestError(message.error));
  }

  private fail(cause: Error): void {
    if (this.failure) return;
    this.logger.error({ err: cause, pending: this.pending.size }, 'inference worker failed');
    this.failure = new BvEdgeError(
      'inference_worker_failed',
      `The inference worker failed: ${cause.message}. Restart bv-edge; if it recurs, run ` +
        'bv-edge model validate on the model bundle.',
      { cause },
    );
    this.rejectPending(this.failure);
  }

  private rejectPending(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
