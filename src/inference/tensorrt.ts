import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const UNKNOWN_GPU = 'unknown-gpu';

/** How long nvidia-smi may take to name the GPU, ms. */
const NVIDIA_SMI_TIMEOUT_MS = 5000;

const NVIDIA_GPUS_DIR = '/proc/driver/nvidia/gpus';
/** The board name on Jetson modules, which have neither nvidia-smi nor NVIDIA_GPUS_DIR. */
const DEVICE_TREE_MODEL = '/proc/device-tree/model';

export interface TensorRtOptions {
  /**
   * Lets TensorRT pick fp16 kernels; default false. Run `bv-edge model validate` with it on
   * first, because fp16 can move outputs beyond the test-vector tolerance.
   */
  fp16?: boolean;
  /**
   * Folder for built TensorRT engines, one subfolder per model SHA-256, onnxruntime version and
   * GPU name; default none, so that engines are built at every load.
   */
  engineCacheDir?: string;
  /** CUDA device index; default 0. */
  deviceId?: number;
}

async function nameFromNvidiaSmi(deviceId: number): Promise<string | null> {
  try {
    const { stdout } = await promisify(execFile)(
      'nvidia-smi',
      ['--query-gpu=name', '--format=csv,noheader', `--id=${deviceId}`],
      { timeout: NVIDIA_SMI_TIMEOUT_MS },
    );
    return stdout.trim().split('\n')[0]?.trim() || null;
  } catch {
    return null;
  }
}

async function nameFromProcDriver(deviceId: number): Promise<string | null> {
  try {
    const buses = (await readdir(NVIDIA_GPUS_DIR)).sort();
    const bus = buses[deviceId];
    if (bus === undefined) return null;
    const information = await readFile(join(NVIDIA_GPUS_DIR, bus, 'information'), 'utf8');
    return /^Model:\s*(.+)$/m.exec(information)?.[1]?.trim() || null;
  } catch {
    return null;
  }
}

async function nameFromDeviceTree(): Promise<string | null> {
  try {
    const model = (await readFile(DEVICE_TREE_MODEL, 'utf8')).replace(/\0/g, '').trim();
    return /nvidia|jetson/i.test(model) ? model : null;
  } catch {
    return null;
  }
}

/**
 * Returns the name of GPU `deviceId` from nvidia-smi, else from the NVIDIA driver's /proc files,
 * else the Jetson board name from the device tree, else "unknown-gpu".
 */
export async function detectGpuName(deviceId = 0): Promise<string> {
  return (
    (await nameFromNvidiaSmi(deviceId)) ??
    (await nameFromProcDriver(deviceId)) ??
    (await nameFromDeviceTree()) ??
    UNKNOWN_GPU
  );
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9.]+/g, '-')
      .replace(/^-+|-+$/g, '') || UNKNOWN_GPU
  );
}

/**
 * Returns the engine cache folder of one model. A TensorRT engine is valid only for the model,
 * TensorRT build and GPU it was built for. The folder name therefore contains the model's SHA-256,
 * the onnxruntime version and the GPU name, so that a changed model or runtime finds no engine.
 */
export function engineCachePath(
  root: string,
  modelSha256: string,
  onnxruntimeVersion: string,
  gpuName: string,
): string {
  return join(root, `${modelSha256}_ort-${slug(onnxruntimeVersion)}_${slug(gpuName)}`);
}

/** Returns whether `folder` contains a built engine (onnxruntime names them *.engine). */
export function hasCachedEngine(folder: string): boolean {
  try {
    return readdirSync(folder).some((name) => name.endsWith('.engine'));
  } catch {
    return false;
  }
}
