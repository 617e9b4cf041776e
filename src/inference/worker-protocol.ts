import type { ViewName } from '../core/image.ts';

export const EXECUTION_PROVIDERS = ['tensorrt', 'cuda', 'cpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** One model of a bundle: a view model by view name, or the fusion model. */
export type ModelKey = ViewName | 'fusion';

/** A float32 tensor as it crosses the thread boundary. */
export interface TensorMessage {
  data: Float32Array;
  dims: number[];
}

/** TensorRT provider settings for one model, as onnxruntime's TensorRT provider names them. */
export interface TensorRtProviderSettings {
  deviceId: number;
  fp16: boolean;
  /** Engine cache folder of this model, or null when no cache is configured. */
  engineCachePath: string | null;
}

/** Load specification of one model: its bytes, the inputs to warm it up with, TensorRT settings. */
export interface ModelLoadSpec {
  key: ModelKey;
  /** File name in the bundle, for messages. */
  file: string;
  bytes: Uint8Array;
  /** Inputs with their shapes, fed as zeros for the warm-up run. */
  inputs: { name: string; dims: number[] }[];
  tensorrt: TensorRtProviderSettings;
}

export interface LoadRequest {
  type: 'load';
  id: number;
  models: ModelLoadSpec[];
  /** Providers to try for each model, in order; each is known to have its libraries present. */
  providers: ExecutionProvider[];
  cudaDeviceId: number;
  intraOpNumThreads?: number;
}

export interface RunRequest {
  type: 'run';
  id: number;
  key: ModelKey;
  feeds: Record<string, TensorMessage>;
}

export interface CloseRequest {
  type: 'close';
  id: number;
}

export type WorkerRequest = LoadRequest | RunRequest | CloseRequest;

/** A provider that could not create or warm up a session, with onnxruntime's message. */
export interface ProviderFailure {
  key: ModelKey;
  file: string;
  provider: ExecutionProvider;
  reason: string;
}

export interface LoadedModel {
  key: ModelKey;
  provider: ExecutionProvider;
  /** Wall time of session creation and of the warm-up run, ms. */
  createMs: number;
  warmUpMs: number;
}

export interface LoadResult {
  models: LoadedModel[];
  failures: ProviderFailure[];
}

/** A model output; `data` is null when its element type is not float32. */
export interface OutputMessage {
  type: string;
  data: Float32Array | null;
  dims: number[];
}

export interface RunResult {
  outputs: Record<string, OutputMessage>;
  /** Wall time of session.run inside the worker, ms. */
  runMs: number;
}

/** Sent before each session creation, so that the main thread can log a slow TensorRT build. */
export interface SessionStartingEvent {
  type: 'session-starting';
  key: ModelKey;
  file: string;
  provider: ExecutionProvider;
}

/** The value each request kind resolves to. */
export interface ResponseValues {
  load: LoadResult;
  run: RunResult;
  close: null;
}

export interface WorkerFailure {
  message: string;
  /** Set when a load failed because no provider could run some model. */
  failures?: ProviderFailure[];
}

export type WorkerResponse =
  | { type: 'response'; id: number; ok: true; value: ResponseValues[WorkerRequest['type']] }
  | { type: 'response'; id: number; ok: false; error: WorkerFailure }
  | SessionStartingEvent;
