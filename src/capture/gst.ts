import { createRequire } from 'node:module';

// gstreamer-superficial 1.7.4 ships no type declarations and loads only through require(), so
// this file declares the part of its API that bv-edge uses and loads it once.

export interface GstBusMessage {
  type: string;
  _src_element_name?: string;
  message?: string;
  debug?: string;
  [key: string]: unknown;
}

export interface GstCaps {
  name?: string;
  width?: number;
  height?: number;
  format?: string;
  framerate?: string;
  [key: string]: unknown;
}

export interface GstAppSink {
  /** basesink statistics as GStreamer serialises a structure, e.g. "..., dropped=(guint64)0, ...". */
  readonly stats?: unknown;
  pull(callback: (buffer: Buffer | null | undefined, caps: GstCaps | undefined) => void): void;
}

export interface GstElement {
  [property: string]: unknown;
}

export interface GstPipeline {
  play(): void;
  pause(): void;
  stop(): void;
  pollBus(callback: (message: GstBusMessage) => void): void;
  findChild(name: string): unknown;
  /** Duration in seconds, or -1 when unknown. */
  queryDuration(): number;
  /** Position in seconds, or -1 when unknown. */
  queryPosition(): number;
  /** Seeks to a whole second with GstSeekFlags; returns whether the seek was accepted. */
  seek(seconds: number, flags: number): boolean;
  'auto-flush-bus': boolean;
}

interface GstModule {
  Pipeline: new (description: string) => GstPipeline;
}

let loaded: GstModule | undefined;

export function gstreamer(): GstModule {
  loaded ??= createRequire(import.meta.url)('gstreamer-superficial') as GstModule;
  return loaded;
}

/**
 * Stops a pipeline so that the process can still exit: with `auto-flush-bus` left on, a bus poll
 * after an error keeps the event loop alive (seen with gstreamer-superficial 1.7.4).
 */
export function stopPipeline(pipeline: GstPipeline): void {
  pipeline['auto-flush-bus'] = false;
  pipeline.stop();
}

/** Parses a GStreamer fraction such as "30000/1001" into frames per second. */
export function parseFramerate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(value);
  if (!match) return undefined;
  const numerator = Number(match[1]);
  const denominator = Number(match[2]);
  if (denominator === 0 || numerator === 0) return undefined;
  return numerator / denominator;
}
