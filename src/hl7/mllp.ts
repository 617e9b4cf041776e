import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';

/**
 * MLLP framing (the HL7 v2 Minimal Lower Layer Protocol): a start block byte 0x0B, the message,
 * then an end block byte 0x1C and a carriage return 0x0D.
 */
export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_TRAILER = 0x0d;

/** Largest frame accepted, bytes; an acknowledgement is a few hundred. */
export const MLLP_MAX_FRAME_BYTES = 1024 * 1024;

/** Wraps `message` (UTF-8) in an MLLP frame. */
export function frameMllp(message: string): Buffer {
  return Buffer.concat([
    Buffer.from([MLLP_START]),
    Buffer.from(message, 'utf8'),
    Buffer.from([MLLP_END, MLLP_TRAILER]),
  ]);
}

/**
 * Splits a byte stream into MLLP frames. `push` returns the frames completed by a chunk and
 * throws MllpError `invalid-reply` on bytes outside a frame (other than CR and LF between
 * frames) or on a frame larger than MLLP_MAX_FRAME_BYTES.
 */
export class MllpDecoder {
  private buffer = Buffer.alloc(0);

  push(chunk: Buffer): string[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const frames: string[] = [];
    for (;;) {
      this.skipLineBreaks();
      if (this.buffer.length === 0) return frames;
      if (this.buffer[0] !== MLLP_START) {
        throw new MllpError(
          'invalid-reply',
          `received ${this.buffer.length} bytes outside an MLLP frame, starting ` +
            `${JSON.stringify(this.buffer.subarray(0, 40).toString('latin1'))}`,
        );
      }
      const end = this.buffer.indexOf(MLLP_END);
      if (end < 0 || end + 1 >= this.buffer.length) {
        this.checkSize();
        return frames;
      }
      if (this.buffer[end + 1] !== MLLP_TRAILER) {
        throw new MllpError('invalid-reply', 'MLLP end block 0x1C is not followed by 0x0D');
      }
      frames.push(this.buffer.subarray(1, end).toString('utf8'));
      this.buffer = this.buffer.subarray(end + 2);
    }
  }

  private skipLineBreaks(): void {
    let start = 0;
    while (
      start < this.buffer.length &&
      (this.buffer[start] === 0x0d || this.buffer[start] === 0x0a)
    ) {
      start++;
    }
    if (start > 0) this.buffer = this.buffer.subarray(start);
  }

  private checkSize(): void {
    if (this.buffer.length > MLLP_MAX_FRAME_BYTES) {
      throw new MllpError(
        'invalid-reply',
        `MLLP frame exceeds ${MLLP_MAX_FRAME_BYTES} bytes without an end block`,
      );
    }
  }
}

/**
 * Kind of failure of a send that got no acknowledgement: `connect-timeout` and `refused`
 * (receiver down), `ack-timeout` (receiver silent), `closed` (connection lost), `invalid-reply`
 * (bytes that are not an MLLP frame), `tls` (handshake or certificate failure), `stopped` (the
 * service stopped during the send). The service retries each kind; a stopped send waits for the
 * next start.
 */
export type MllpFailure =
  'connect-timeout' | 'refused' | 'ack-timeout' | 'closed' | 'invalid-reply' | 'tls' | 'stopped';

export class MllpError extends Error {
  readonly kind: MllpFailure;

  constructor(kind: MllpFailure, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'MllpError';
    this.kind = kind;
  }
}

export interface MllpEndpoint {
  host: string;
  port: number;
  /** TLS options (CA, client certificate, server name); null for plain TCP. */
  tls: ConnectionOptions | null;
  connectTimeoutMs: number;
  ackTimeoutMs: number;
}

/**
 * Opens a connection to `endpoint`, sends `message` in one MLLP frame, waits for the first frame
 * back and closes the connection. Resolves with that frame's text, the acknowledgement, and
 * rejects with MllpError. `signal` aborts the send with kind `stopped`.
 */
export function sendMllp(
  endpoint: MllpEndpoint,
  message: string,
  signal?: AbortSignal,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = openSocket(endpoint);
    const decoder = new MllpDecoder();
    let timer: NodeJS.Timeout | null = null;
    let settled = false;
    // A TLS error is one that comes after the TCP connect and before the handshake completed.
    let handshaking = false;

    const finish = (error: MllpError | null, reply?: string): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply!);
    };
    const startTimer = (kind: MllpFailure, ms: number, what: string): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => finish(new MllpError(kind, `${what} timed out after ${ms} ms`)), ms);
    };
    const onAbort = (): void => finish(new MllpError('stopped', 'send stopped'));

    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    startTimer('connect-timeout', endpoint.connectTimeoutMs, `connection to ${describe(endpoint)}`);
    socket.once('connect', () => {
      handshaking = endpoint.tls !== null;
    });
    socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
      handshaking = false;
      startTimer('ack-timeout', endpoint.ackTimeoutMs, 'acknowledgement');
      socket.write(frameMllp(message));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        const [reply] = decoder.push(chunk);
        if (reply !== undefined) finish(null, reply);
      } catch (error) {
        finish(error as MllpError);
      }
    });
    socket.on('error', (error) => finish(socketError(error, endpoint, handshaking)));
    socket.on('close', () => {
      finish(new MllpError('closed', `${describe(endpoint)} closed the connection before the ACK`));
    });
  });
}

function openSocket(endpoint: MllpEndpoint): Socket {
  if (!endpoint.tls) return connectTcp({ host: endpoint.host, port: endpoint.port });
  return connectTls({ ...endpoint.tls, host: endpoint.host, port: endpoint.port });
}

function socketError(error: Error, endpoint: MllpEndpoint, handshaking: boolean): MllpError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const where = describe(endpoint);
  if (code === 'ECONNREFUSED') {
    return new MllpError('refused', `${where} refused the connection`, { cause: error });
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return new MllpError('closed', `${where} reset the connection (${code})`, { cause: error });
  }
  if (handshaking) {
    return new MllpError('tls', `TLS with ${where} failed: ${error.message}`, { cause: error });
  }
  return new MllpError('closed', `connection to ${where} failed: ${error.message}`, {
    cause: error,
  });
}

function describe(endpoint: MllpEndpoint): string {
  return `${endpoint.tls ? 'mllp+tls' : 'mllp'}://${endpoint.host}:${endpoint.port}`;
}
