import { randomUUID } from 'node:crypto';
import { uptime as systemUptime } from 'node:os';

import type { FrameSource } from '../core/frames.ts';
import type { LatencyRecorder } from './latency.ts';
import type { TelemetryPayload } from './payloads.ts';
import { readDiskSpace, readTemperatures } from './sysfs.ts';

/** Outbox figures that telemetry and health report. */
export interface OutboxState {
  depth: number;
  /** Age of the oldest queued message, s; null when the outbox is empty. */
  oldestAgeS: number | null;
  /** True when the outbox is at its bounds with only messages that are never dropped. */
  full: boolean;
}

/** Sources of the telemetry figures. */
export interface TelemetrySources {
  frameSource: FrameSource;
  /** Frames that capture dropped since it started; null when the source does not count them. */
  framesDropped: () => number | null;
  latency: LatencyRecorder;
  outbox: () => OutboxState;
  mqttConnected: () => boolean;
  /** True when storage care last reported free space below its floor. */
  diskLow: () => boolean;
  /** Folder whose file system's free space is reported. */
  dataDir: string;
  /** Root of /sys, "/" outside tests. */
  sysfsRoot: string;
  startedAt: Date;
}

/** Takes one telemetry snapshot. A data folder that cannot be read gives `disk: null`. */
export async function collectTelemetry(
  sources: TelemetrySources,
  now: Date = new Date(),
): Promise<TelemetryPayload> {
  const { frameSource } = sources;
  const disk = await readDiskSpace(sources.dataDir).catch(() => null);
  const outbox = sources.outbox();
  return {
    messageId: randomUUID(),
    at: now.toISOString(),
    uptimeS: round((now.getTime() - sources.startedAt.getTime()) / 1000),
    systemUptimeS: round(systemUptime()),
    capture: {
      state: frameSource.state,
      fps: round(frameSource.fps),
      framesDropped: sources.framesDropped(),
    },
    inference: {
      view: sources.latency.summary('view'),
      fusion: sources.latency.summary('fusion'),
    },
    outbox: { depth: outbox.depth, oldestAgeS: outbox.oldestAgeS, full: outbox.full },
    disk: disk && { ...disk, low: sources.diskLow() },
    temperatures: await readTemperatures(sources.sysfsRoot),
    mqttConnected: sources.mqttConnected(),
  };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
