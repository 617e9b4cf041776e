/**
 * The inference thread. It keeps one onnxruntime session per model, created and warmed up at load,
 * and runs them on request. onnxruntime-node runs a model synchronously on the calling thread,
 * so running it here keeps the main thread (MQTT, HTTP, capture) responsive. Requests are served
 * one at a time in arrival order. The thread never logs, because the main thread owns the logger.
 */
import { parentPort } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import {
  createSession,
  fromOutputs,
  toFeeds,
  zeroFeeds,
  type ProviderSettings,
} from './sessions.ts';
import type {
  LoadRequest,
  LoadResult,
  LoadedModel,
  ModelKey,
  ModelLoadSpec,
  ProviderFailure,
  ResponseValues,
  RunRequest,
  RunResult,
  WorkerFailure,
  WorkerRequest,
  WorkerResponse,
} from './worker-protocol.ts';

const port = parentPort;
if (!port) throw new Error('src/inference/worker.ts must run in a worker thread');

const sessions = new Map<ModelKey, ort.InferenceSession>();
let queue: Promise<void> = Promise.resolve();

/** A load that failed for every provider on some model; `failures` lists each attempt. */
class LoadFailure extends Error {
  constructor(
    message: string,
    readonly failures: ProviderFailure[],
  ) {
    super(message);
  }
}

function post(message: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

async function releaseAll(): Promise<void> {
  const open = [...sessions.values()];
  sessions.clear();
  await Promise.all(open.map((session) => session.release()));
}

/** Tries each provider in order until one creates the session and runs the warm-up. */
async function loadModel(
  spec: ModelLoadSpec,
  request: LoadRequest,
  failures: ProviderFailure[],
): Promise<LoadedModel | null> {
  const settings: ProviderSettings = {
    tensorrt: spec.tensorrt,
    cudaDeviceId: request.cudaDeviceId,
  };
  for (const [i, provider] of request.providers.entries()) {
    post({ type: 'session-starting', key: spec.key, file: spec.file, provider });
    let session: ort.InferenceSession | null = null;
    try {
      const created = performance.now();
      const chain = request.providers.slice(i);
      session = await createSession(spec.bytes, chain, settings, request.intraOpNumThreads);
      const warmed = performance.now();
      await session.run(toFeeds(zeroFeeds(spec.inputs)));
      sessions.set(spec.key, session);
      const createMs = warmed - created;
      return { key: spec.key, provider, createMs, warmUpMs: performance.now() - warmed };
    } catch (error) {
      await session?.release();
      failures.push({ key: spec.key, file: spec.file, provider, reason: (error as Error).message });
    }
  }
  return null;
}

async function load(request: LoadRequest): Promise<LoadResult> {
  await releaseAll();
  const models: LoadedModel[] = [];
  const failures: ProviderFailure[] = [];
  for (const spec of request.models) {
    const loaded = await loadModel(spec, request, failures);
    if (!loaded) {
      await releaseAll();
      throw new LoadFailure(`no execution provider could load ${spec.file}`, failures);
    }
    models.push(loaded);
  }
  return { models, failures };
}

async function run(request: RunRequest): Promise<RunResult> {
  const session = sessions.get(request.key);
  if (!session) throw new Error(`no session for model ${request.key}; load the bundle first`);
  const started = performance.now();
  const outputs = await session.run(toFeeds(request.feeds));
  const runMs = performance.now() - started;
  return { outputs: fromOutputs(outputs), runMs };
}

async function dispatch(request: WorkerRequest): Promise<ResponseValues[WorkerRequest['type']]> {
  if (request.type === 'load') return load(request);
  if (request.type === 'run') return run(request);
  await releaseAll();
  return null;
}

/** Output buffers move to the main thread instead of being copied. */
function transferList(value: ResponseValues[WorkerRequest['type']]): ArrayBuffer[] {
  if (value === null || !('outputs' in value)) return [];
  const buffers: ArrayBuffer[] = [];
  for (const output of Object.values(value.outputs)) {
    if (output.data) buffers.push(output.data.buffer as ArrayBuffer);
  }
  return buffers;
}

async function handle(request: WorkerRequest): Promise<void> {
  try {
    const value = await dispatch(request);
    post({ type: 'response', id: request.id, ok: true, value }, transferList(value));
  } catch (error) {
    const failure: WorkerFailure = { message: (error as Error).message };
    if (error instanceof LoadFailure) failure.failures = error.failures;
    post({ type: 'response', id: request.id, ok: false, error: failure });
  }
}

port.on('message', (request: WorkerRequest) => {
  queue = queue.then(() => handle(request));
});
