import type { Config } from '../config/index.ts';
import type { Logger } from '../core/log.ts';
import type { EngineOptions } from './engine.ts';

/** Maps the daemon config onto the inference engine's options. */
export function engineOptionsFromConfig(config: Config, logger: Logger): EngineOptions {
  const { tensorrt, cuda } = config;
  return {
    providers: config.providers,
    logger,
    tensorrt: {
      fp16: tensorrt.fp16,
      deviceId: tensorrt.deviceId,
      engineCacheDir: tensorrt.engineCacheDir ?? undefined,
    },
    cudaDeviceId: cuda.deviceId,
  };
}
