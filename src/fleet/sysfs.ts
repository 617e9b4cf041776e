import { readdir, readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';

export interface Temperatures {
  /** Hottest CPU sensor, °C; null when the machine exposes none in sysfs. */
  cpuC: number | null;
  /** Hottest GPU sensor, °C; null when the machine exposes none in sysfs. */
  gpuC: number | null;
}

export interface DiskSpace {
  path: string;
  /** Space available to the daemon's user, bytes. */
  freeBytes: number;
  totalBytes: number;
}

// Thermal zone types: x86_pkg_temp (Intel), CPU-therm and GPU-therm (Jetson TX2 and Xavier),
// cpu-thermal and gpu-thermal (Jetson Orin), soc_thermal (Raspberry Pi and other ARM boards).
const CPU_ZONE = /cpu|x86_pkg_temp|soc_thermal/i;
const GPU_ZONE = /gpu/i;
// hwmon driver names: coretemp (Intel), k10temp and zenpower (AMD); amdgpu, radeon and nouveau.
const CPU_HWMON = /^(coretemp|k10temp|zenpower|cpu_thermal|soc_thermal)$/;
const GPU_HWMON = /^(amdgpu|radeon|nouveau|gpu_thermal)$/;
/** Readings outside this range, °C, come from absent or broken sensors and are ignored. */
const PLAUSIBLE_C = { min: -40, max: 150 };

/**
 * Reads CPU and GPU temperatures from the thermal zones (/sys/class/thermal/thermal_zone*) and
 * the hwmon drivers (/sys/class/hwmon/hwmon*) under `root`. Each value is the hottest matching
 * sensor. Missing or unreadable files give null, never an error.
 */
// NOTE: NVIDIA discrete GPUs report their temperature through NVML, not sysfs, so gpuC is null
// on an x86 cart with such a GPU. On Jetson the GPU sensor is a thermal zone, and the
// /sys/devices/gpu.0 node has load and frequency files but no temperature.
export async function readTemperatures(root = '/'): Promise<Temperatures> {
  const readings = [...(await thermalZones(root)), ...(await hwmonSensors(root))];
  const hottest = (kind: 'cpu' | 'gpu'): number | null => {
    const values = readings.filter((reading) => reading.kind === kind).map((r) => r.celsius);
    return values.length === 0 ? null : Math.max(...values);
  };
  return { cpuC: hottest('cpu'), gpuC: hottest('gpu') };
}

interface Reading {
  kind: 'cpu' | 'gpu';
  celsius: number;
}

async function thermalZones(root: string): Promise<Reading[]> {
  const base = join(root, 'sys/class/thermal');
  const readings: Reading[] = [];
  for (const entry of await listDirectory(base, /^thermal_zone\d+$/)) {
    const type = await readText(join(base, entry, 'type'));
    const kind = type === null ? null : classify(type, CPU_ZONE, GPU_ZONE);
    if (kind === null) continue;
    const celsius = await readMillidegrees(join(base, entry, 'temp'));
    if (celsius !== null) readings.push({ kind, celsius });
  }
  return readings;
}

async function hwmonSensors(root: string): Promise<Reading[]> {
  const base = join(root, 'sys/class/hwmon');
  const readings: Reading[] = [];
  for (const entry of await listDirectory(base, /^hwmon\d+$/)) {
    const name = await readText(join(base, entry, 'name'));
    const kind = name === null ? null : classify(name, CPU_HWMON, GPU_HWMON);
    if (kind === null) continue;
    for (const input of await listDirectory(join(base, entry), /^temp\d+_input$/)) {
      const celsius = await readMillidegrees(join(base, entry, input));
      if (celsius !== null) readings.push({ kind, celsius });
    }
  }
  return readings;
}

function classify(label: string, cpu: RegExp, gpu: RegExp): 'cpu' | 'gpu' | null {
  if (gpu.test(label)) return 'gpu';
  if (cpu.test(label)) return 'cpu';
  return null;
}

/** Reads a sysfs temperature in millidegrees Celsius and returns °C rounded to 0.1. */
async function readMillidegrees(path: string): Promise<number | null> {
  const text = await readText(path);
  if (text === null || !/^-?\d+$/.test(text)) return null;
  const celsius = Number(text) / 1000;
  if (celsius < PLAUSIBLE_C.min || celsius > PLAUSIBLE_C.max) return null;
  return Math.round(celsius * 10) / 10;
}

async function readText(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

async function listDirectory(path: string, pattern: RegExp): Promise<string[]> {
  try {
    return (await readdir(path)).filter((name) => pattern.test(name)).sort();
  } catch {
    return [];
  }
}

/** Returns the free and total space of the file system that holds `path`. */
export async function readDiskSpace(path: string): Promise<DiskSpace> {
  const stats = await statfs(path);
  return {
    path,
    freeBytes: stats.bavail * stats.bsize,
    totalBytes: stats.blocks * stats.bsize,
  };
}
