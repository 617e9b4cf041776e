import { createServer } from 'node:net';

import { BvEdgeError } from '../core/errors.ts';

/**
 * Binds the status page's address once and releases it, so that a port in use is found before
 * the daemon connects to the broker or opens anything else. Port 0 (any free port) is not
 * checked. Throws the BvEdgeError of `listenError`.
 * NOTE: another program can still take the port between this check and the real bind. The real
 * bind then fails with the same message, but only after the broker connection was made.
 */
export async function assertCanListen(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, resolve);
    });
  } catch (error) {
    throw listenError(error, host, port);
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * Turns a failed bind of the status page into a BvEdgeError `http_listen_failed` that names the
 * config key and the fix. Errors of other kinds are returned unchanged.
 */
export function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const address = `${host}:${port}`;
  let message: string;
  if (code === 'EADDRINUSE') {
    message =
      `Cannot serve the status page on ${address}: the port is already in use by another ` +
      'program. Stop that program, or set http.port in the config to a free port.';
  } else if (code === 'EACCES') {
    message =
      `Cannot serve the status page on ${address}: this user may not listen on port ${port}. ` +
      'Set http.port in the config to 1024 or above.';
  } else if (code === 'EADDRNOTAVAIL') {
    message =
      `Cannot serve the status page on ${address}: ${host} is not an address of this machine. ` +
      'Set http.host in the config to one of its addresses, e.g. 127.0.0.1.';
  } else {
    return error;
  }
  return new BvEdgeError('http_listen_failed', message, { value: address, cause: error });
}
