import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import type { ExecutionProvider } from './worker-protocol.ts';

/**
 * Shared libraries that onnxruntime loads for a GPU execution provider. The onnxruntime-node npm
 * package ships only the CPU provider. GPU carts get the CUDA and TensorRT ones from their deploy
 * step, or from onnxruntime-node's install script where its download is allowed.
 */
const PROVIDER_LIBRARIES: Partial<Record<ExecutionProvider, string[]>> = {
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  tensorrt: [
    'libonnxruntime_providers_shared.so',
    'libonnxruntime_providers_cuda.so',
    'libonnxruntime_providers_tensorrt.so',
  ],
};

/** Folders searched: beside onnxruntime-node's binding, then LD_LIBRARY_PATH. */
function libraryFolders(): string[] {
  const folders: string[] = [];
  try {
    const packageJson = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    folders.push(join(dirname(packageJson), 'bin/napi-v6', process.platform, process.arch));
  } catch {
    // Not resolvable: only LD_LIBRARY_PATH is searched.
  }
  for (const folder of (process.env.LD_LIBRARY_PATH ?? '').split(delimiter)) {
    if (folder !== '') folders.push(folder);
  }
  return folders;
}

/**
 * Returns why `provider` cannot load on this machine, or null when its libraries are present.
 * Checking first keeps onnxruntime from printing native errors for a provider that is absent.
 */
export function missingProviderReason(provider: ExecutionProvider): string | null {
  const libraries = PROVIDER_LIBRARIES[provider];
  if (!libraries) return null;
  const folders = libraryFolders();
  const missing = libraries.filter(
    (library) => !folders.some((folder) => existsSync(join(folder, library))),
  );
  if (missing.length === 0) return null;
  return (
    `${missing.join(', ')} not found in ${folders.join(', ')}; ` +
    'install the onnxruntime GPU provider libraries (deploy step of GPU carts)'
  );
}
