import { statSync } from 'node:fs';
import { BvEdgeError } from '../core/errors.ts';
import type { Clip, Frame } from '../core/image.ts';
import { gstreamer, parseFramerate, stopPipeline, type GstAppSink, type GstCaps } from './gst.ts';

export type PixelFormat = 'gray8' | 'rgb24';

export interface DecodeOptions {
  pixelFormat?: PixelFormat;
  /** Give up when no frame arrives for this many milliseconds; default 15000. */
  timeoutMs?: number;
  /** Stop after this many frames; default unlimited. */
  maxFrames?: number;
}

const GST_FORMAT: Record<PixelFormat, { caps: string; channels: 1 | 3 }> = {
  gray8: { caps: 'GRAY8', channels: 1 },
  rgb24: { caps: 'RGB', channels: 3 },
};

/**
 * A clip that decodes to less than this share of its container duration is reported as truncated.
 * A complete file decodes to its full duration, give or take one frame.
 */
const MIN_DECODED_SHARE = 0.9;

/** Frame rates outside this range, in frames per second, are taken as a bad container value. */
const MIN_PLAUSIBLE_FPS = 1;
const MAX_PLAUSIBLE_FPS = 240;
/** Used only when neither the caps nor the container give a rate. */
const DEFAULT_FPS = 30;

/**
 * Decodes a video file (MP4, MOV, GIF or anything decodebin handles) into 8-bit frames through a
 * real GStreamer pipeline. Rejects with a BvEdgeError that names the file when it is missing,
 * is not a video, or is truncated.
 */
export async function decodeClip(path: string, options: DecodeOptions = {}): Promise<Clip> {
  checkReadableFile(path);
  const format = GST_FORMAT[options.pixelFormat ?? 'gray8'];
  const pipeline = new (gstreamer().Pipeline)(
    `filesrc name=src ! decodebin ! videoconvert ! video/x-raw,format=${format.caps} ` +
      '! appsink name=sink sync=false',
  );
  // Setting the location as a property avoids quoting the path inside the launch string.
  (pipeline.findChild('src') as Record<string, unknown>).location = path;
  const sink = pipeline.findChild('sink') as GstAppSink;

  const frames: Frame[] = [];
  let width = 0;
  let height = 0;
  let fps: number | undefined;

  return new Promise<Clip>((resolve, reject) => {
    let settled = false;
    const finish = (error?: BvEdgeError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const durationS = pipeline.queryDuration();
      // A pending pull() blocks until the pipeline stops, so stop before settling.
      stopPipeline(pipeline);
      if (error) return reject(error);
      try {
        resolve(buildClip(path, frames, width, height, format.channels, fps, durationS));
      } catch (cause) {
        reject(cause as Error);
      }
    };
    const timeoutMs = options.timeoutMs ?? 15_000;
    // A stall timer, restarted by every frame: some damaged GIFs never reach end of stream.
    const onStall = (): void => {
      finish(
        new BvEdgeError(
          'decode_timeout',
          `Decoding ${path} timed out: no frame for ${timeoutMs} ms. The file is probably truncated or ` +
            'damaged. Copy it again from the scanner.',
          { value: path },
        ),
      );
    };
    const timer = setTimeout(onStall, timeoutMs);

    pipeline.pollBus((message) => {
      if (message.type !== 'error') return;
      finish(
        new BvEdgeError(
          'decode_failed',
          `Cannot decode ${path}: ${trimPeriod(message.message ?? 'GStreamer error')}. ` +
            'Check that the file is a complete video (MP4, MOV or GIF).',
          { value: path, cause: message },
        ),
      );
    });

    const onSample = (buffer: Buffer | null | undefined, caps: GstCaps | undefined): void => {
      if (settled) return;
      if (caps?.width !== undefined && caps.height !== undefined) {
        width = caps.width;
        height = caps.height;
        fps = parseFramerate(caps.framerate) ?? fps;
      }
      if (!buffer) {
        // The first callbacks may carry caps alone; a null buffer with no caps is end of stream.
        if (caps && Object.keys(caps).length > 0) return sink.pull(onSample);
        return finish();
      }
      frames.push(copyFrame(buffer, width, height, format.channels));
      timer.refresh();
      if (options.maxFrames !== undefined && frames.length >= options.maxFrames) return finish();
      sink.pull(onSample);
    };
    pipeline.play();
    sink.pull(onSample);
  });
}

function trimPeriod(text: string): string {
  return text.endsWith('.') ? text.slice(0, -1) : text;
}

function checkReadableFile(path: string): void {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) {
      throw new BvEdgeError('not_a_file', `Video path ${path} is not a file. Pass a video file.`, {
        value: path,
      });
    }
    size = stat.size;
  } catch (cause) {
    if (cause instanceof BvEdgeError) throw cause;
    throw new BvEdgeError('file_not_found', `Video file ${path} not found. Check the path.`, {
      value: path,
      cause,
    });
  }
  if (size === 0) {
    throw new BvEdgeError(
      'empty_file',
      `Video file ${path} is empty (0 bytes). Copy it again from the scanner.`,
      { value: path },
    );
  }
}

/**
 * Copies one appsink buffer into a tightly packed frame. GStreamer pads each row of raw video to a
 * multiple of 4 bytes, so a 562-pixel-wide grey frame arrives with 564-byte rows.
 */
function copyFrame(buffer: Buffer, width: number, height: number, channels: 1 | 3): Frame {
  const rowBytes = width * channels;
  const stride = Math.ceil(rowBytes / 4) * 4;
  if (width === 0 || buffer.length < stride * (height - 1) + rowBytes) {
    throw new BvEdgeError(
      'bad_buffer',
      `Decoder returned ${buffer.length} bytes for a ${width}x${height} frame.`,
      { value: buffer.length },
    );
  }
  const data = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    data.set(buffer.subarray(y * stride, y * stride + rowBytes), y * rowBytes);
  }
  return { width, height, channels, data };
}

function buildClip(
  path: string,
  frames: Frame[],
  width: number,
  height: number,
  channels: 1 | 3,
  fps: number | undefined,
  containerDurationS: number,
): Clip {
  if (frames.length === 0) {
    throw new BvEdgeError(
      'no_frames',
      `Video file ${path} contains no video frames. Check that it is a video, not audio or an image.`,
      { value: path },
    );
  }
  // NOTE: appsink buffers carry no timestamps in gstreamer-superficial 1.7.4, so times come from
  // the nominal frame rate. A variable-rate file (some GIFs) is treated as constant rate.
  const fromDuration = containerDurationS > 0 ? frames.length / containerDurationS : undefined;
  // Some muxer and encoder pairs write a nominal rate that is off by orders of magnitude: avenc_mpeg4
  // in qtmux reads back as 1770/1 in GStreamer 1.22. The duration is trusted then.
  const plausible = (value: number | undefined): value is number =>
    value !== undefined && value >= MIN_PLAUSIBLE_FPS && value <= MAX_PLAUSIBLE_FPS;
  const rate = plausible(fps) ? fps : plausible(fromDuration) ? fromDuration : DEFAULT_FPS;
  const decodedS = frames.length / rate;
  if (containerDurationS > 0 && decodedS < containerDurationS * MIN_DECODED_SHARE) {
    throw new BvEdgeError(
      'truncated',
      `Video file ${path} is truncated: decoded ${decodedS.toFixed(2)} s of ` +
        `${containerDurationS.toFixed(2)} s. Copy the file again from the scanner.`,
      { value: path },
    );
  }
  const timestampsS = frames.map((_, index) => index / rate);
  return { source: path, width, height, channels, fps: rate, frames, timestampsS };
}
