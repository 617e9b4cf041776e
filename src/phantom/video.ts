import { spawn } from 'node:child_process';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { BvEdgeError } from '../core/errors.ts';
import type { GrayFrame } from '../core/image.ts';

/**
 * H.264 through openh264enc (gstreamer1.0-plugins-bad), parsed for the MP4 muxer. qp-max=24
 * keeps the speckle and lumen edges: on 320×240 phantom clips the decoded frames differ from the
 * source by about 4 grey levels on average, at about 0.5 MB per second of video.
 * NOTE: avenc_mpeg4 from gstreamer1.0-libav 1.22.0 is not used because its output buffers carry
 * no valid timestamps, so the muxed file had all-zero timestamps and a nonsense frame rate.
 */
const ENCODER = ['openh264enc', 'bitrate=4000000', 'qp-max=24', '!', 'h264parse'];

/** GStreamer's default GRAY8 row stride is the width rounded up to a multiple of 4 bytes. */
function rowStride(width: number): number {
  return Math.ceil(width / 4) * 4;
}

/** Expresses the frame rate as the fraction GStreamer caps take, to 1/1000 frame per second. */
function framerateFraction(fps: number): string {
  return Number.isInteger(fps) ? `${fps}/1` : `${Math.round(fps * 1000)}/1000`;
}

function checkFrames(frames: readonly GrayFrame[], fps: number): void {
  if (frames.length === 0) {
    throw new BvEdgeError('video_invalid_input', 'Cannot write a video without frames.', {
      value: 0,
    });
  }
  if (!Number.isFinite(fps) || fps <= 0 || fps > 1000) {
    throw new BvEdgeError(
      'video_invalid_input',
      `Invalid frame rate ${fps}; expected 0 < fps ≤ 1000.`,
      {
        value: fps,
      },
    );
  }
  const { width, height } = frames[0]!;
  // 4:2:0 chroma needs even sizes.
  if (width % 2 !== 0 || height % 2 !== 0) {
    throw new BvEdgeError(
      'video_invalid_input',
      `Invalid frame size ${width}x${height}; expected even sizes.`,
      {
        value: { width, height },
      },
    );
  }
  frames.forEach((frame, i) => {
    if (frame.channels !== 1 || frame.width !== width || frame.height !== height) {
      throw new BvEdgeError(
        'video_invalid_input',
        `Frame ${i} is ${frame.width}x${frame.height} with ${frame.channels} channels; expected ${width}x${height} grey.`,
        { value: i },
      );
    }
  });
}

function pipelineArguments(width: number, height: number, fps: number, path: string): string[] {
  return [
    '-q',
    'fdsrc',
    'fd=0',
    '!',
    'rawvideoparse',
    'format=gray8',
    `width=${width}`,
    `height=${height}`,
    `framerate=${framerateFraction(fps)}`,
    '!',
    'videoconvert',
    '!',
    'video/x-raw,format=I420',
    '!',
    ...ENCODER,
    '!',
    'mp4mux',
    '!',
    'filesink',
    // gst-launch escapes spaces inside one argument, so the path needs no quoting.
    `location=${path}`,
  ];
}

/** Writes frames to the encoder's stdin, padding rows to the GRAY8 stride, and closes it. */
async function feedFrames(stdin: Writable, frames: readonly GrayFrame[]): Promise<void> {
  const stride = rowStride(frames[0]!.width);
  for (const frame of frames) {
    let bytes = frame.data;
    if (stride !== frame.width) {
      bytes = new Uint8Array(stride * frame.height);
      for (let y = 0; y < frame.height; y++) {
        bytes.set(frame.data.subarray(y * frame.width, (y + 1) * frame.width), y * stride);
      }
    }
    if (!stdin.write(bytes)) await once(stdin, 'drain');
  }
  stdin.end();
}

/**
 * Encodes grey frames as an H.264 video in an MP4 container through a
 * gst-launch-1.0 child process. The file appears at `path` only when encoding succeeded.
 */
export async function writeVideo(frames: GrayFrame[], fps: number, path: string): Promise<void> {
  checkFrames(frames, fps);
  const { width, height } = frames[0]!;
  const partial = `${path}.partial`;
  const child = spawn('gst-launch-1.0', pipelineArguments(width, height, fps, partial), {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr
    .setEncoding('utf8')
    .on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
  // A failed encoder closes stdin early; its exit code and stderr explain why, not EPIPE.
  child.stdin.on('error', () => undefined);
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  // Awaited below; this keeps an early spawn failure from counting as an unhandled rejection.
  exit.catch(() => undefined);
  try {
    await feedFrames(child.stdin, frames).catch(() => undefined);
    const code = await exit;
    if (code !== 0)
      throw new Error(`gst-launch-1.0 exited with code ${code}: ${stderr.trim() || 'no output'}`);
    await rename(partial, path);
  } catch (cause) {
    await rm(partial, { force: true });
    const reason =
      (cause as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'gst-launch-1.0 not found (install gstreamer1.0-tools)'
        : (cause as Error).message;
    throw new BvEdgeError('video_write_failed', `Failed to write video ${path}: ${reason}.`, {
      value: path,
      cause,
    });
  }
}
