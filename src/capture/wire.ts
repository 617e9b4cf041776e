import type { TimedFrame } from '../core/frames.ts';

/**
 * Framing of grey frames on the pipe from the capture process: a 24-byte little-endian header
 * (magic, width, height, sequence number, timestamp in seconds as a float64) and then
 * width × height bytes of pixels, rows packed without padding.
 */
export const FRAME_MAGIC = 0x31465642; // "BVF1" read as little-endian bytes
export const HEADER_BYTES = 24;
/** Frames larger than 8192 × 8192 mean a corrupt stream, not a video. */
const MAX_PIXELS = 8192 * 8192;

export function encodeFrameHeader(
  width: number,
  height: number,
  sequence: number,
  timestampS: number,
): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32LE(FRAME_MAGIC, 0);
  header.writeUInt32LE(width, 4);
  header.writeUInt32LE(height, 8);
  header.writeUInt32LE(sequence >>> 0, 12);
  header.writeDoubleLE(timestampS, 16);
  return header;
}

/**
 * Reassembles frames from the chunks of a byte stream. Throws on a header that does not start
 * with FRAME_MAGIC or gives an impossible size, because the stream is then out of step.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: { width: number; height: number; sequence: number; timestampS: number } | null =
    null;

  /** Adds a chunk and returns the frames that it completes, oldest first. */
  push(chunk: Buffer): (TimedFrame & { sequence: number })[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: (TimedFrame & { sequence: number })[] = [];
    for (;;) {
      if (this.header === null) {
        if (this.buffered < HEADER_BYTES) break;
        this.header = this.readHeader(this.take(HEADER_BYTES));
      }
      const size = this.header.width * this.header.height;
      if (this.buffered < size) break;
      const { width, height, sequence, timestampS } = this.header;
      const bytes = this.take(size);
      // A plain Uint8Array view, so that consumers' slice() copies as it does for Uint8Array.
      const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
      frames.push({ frame: { width, height, channels: 1, data }, timestampS, sequence });
      this.header = null;
    }
    return frames;
  }

  private readHeader(bytes: Buffer) {
    const magic = bytes.readUInt32LE(0);
    const width = bytes.readUInt32LE(4);
    const height = bytes.readUInt32LE(8);
    if (magic !== FRAME_MAGIC || width === 0 || height === 0 || width * height > MAX_PIXELS) {
      throw new Error(`corrupt frame header (magic ${magic.toString(16)}, ${width}x${height})`);
    }
    return { width, height, sequence: bytes.readUInt32LE(12), timestampS: bytes.readDoubleLE(16) };
  }

  /** Removes `size` bytes from the front of the buffered chunks into one new buffer. */
  private take(size: number): Buffer {
    const out = Buffer.allocUnsafe(size);
    let offset = 0;
    while (offset < size) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length, size - offset);
      chunk.copy(out, offset, 0, count);
      offset += count;
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
    }
    this.buffered -= size;
    return out;
  }
}
