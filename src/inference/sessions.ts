import * as ort from 'onnxruntime-node';
import type {
  ExecutionProvider,
  OutputMessage,
  TensorMessage,
  TensorRtProviderSettings,
} from './worker-protocol.ts';

/**
 * TensorRT provider options under the keys that onnxruntime's TensorRT provider documents.
 * NOTE: the onnxruntime-node 1.31 binding reads only `deviceId` from this object (its typings in
 * onnxruntime-common declare no other TensorRT option), so fp16 and the engine cache take effect
 * only with a binding that forwards these keys. The engine logs this when TensorRT loads.
 */
interface TensorRtOptionObject extends ort.InferenceSession.TensorRtExecutionProviderOption {
  trt_fp16_enable: boolean;
  trt_engine_cache_enable: boolean;
  trt_engine_cache_path?: string;
}

export interface ProviderSettings {
  tensorrt: TensorRtProviderSettings;
  cudaDeviceId: number;
}

function providerConfig(
  provider: ExecutionProvider,
  settings: ProviderSettings,
): ort.InferenceSession.ExecutionProviderConfig {
  if (provider === 'cuda') return { name: 'cuda', deviceId: settings.cudaDeviceId };
  if (provider === 'cpu') return 'cpu';
  const { deviceId, fp16, engineCachePath } = settings.tensorrt;
  const options: TensorRtOptionObject = {
    name: 'tensorrt',
    deviceId,
    trt_fp16_enable: fp16,
    trt_engine_cache_enable: engineCachePath !== null,
    ...(engineCachePath !== null && { trt_engine_cache_path: engineCachePath }),
  };
  return options;
}

/**
 * Creates a session whose provider chain is `chain`: onnxruntime places each node on the first
 * provider of the chain that supports it, so nodes the first one cannot run fall back to the next.
 */
export async function createSession(
  bytes: Uint8Array,
  chain: readonly ExecutionProvider[],
  settings: ProviderSettings,
  intraOpNumThreads?: number,
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: chain.map((provider) => providerConfig(provider, settings)),
    graphOptimizationLevel: 'all',
    ...(intraOpNumThreads !== undefined && { intraOpNumThreads }),
  });
}

export function toFeeds(tensors: Record<string, TensorMessage>): ort.InferenceSession.FeedsType {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(tensors)) {
    feeds[name] = new ort.Tensor('float32', tensor.data, tensor.dims);
  }
  return feeds;
}

/** Copies outputs into plain messages; tensors of other element types keep only type and dims. */
export function fromOutputs(
  outputs: ort.InferenceSession.OnnxValueMapType,
): Record<string, OutputMessage> {
  const messages: Record<string, OutputMessage> = {};
  for (const [name, value] of Object.entries(outputs)) {
    const data = value.type === 'float32' ? Float32Array.from(value.data as Float32Array) : null;
    messages[name] = { type: value.type, data, dims: [...value.dims] };
  }
  return messages;
}

/** Zero-filled feeds for a warm-up run, which makes onnxruntime allocate and plan once at load. */
export function zeroFeeds(
  inputs: readonly { name: string; dims: number[] }[],
): Record<string, TensorMessage> {
  const feeds: Record<string, TensorMessage> = {};
  for (const input of inputs) {
    const size = input.dims.reduce((total, dim) => total * dim, 1);
    feeds[input.name] = { data: new Float32Array(size), dims: input.dims };
  }
  return feeds;
}
