import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';

import { Aedes } from 'aedes';

import type { Logger } from '../core/log.ts';

export interface EmbeddedBroker {
  /** e.g. "mqtt://127.0.0.1:41234". */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  /** Default "127.0.0.1". */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  logger?: Logger;
}

/**
 * Starts an in-process aedes MQTT broker (MQTT 3.1.1 only, in-memory, no authentication) for the
 * demo and tests. Fleet carts publish to a real broker instead.
 */
export async function startEmbeddedBroker(
  options: EmbeddedBrokerOptions = {},
): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const aedes = await Aedes.createBroker();
  const server = createServer((socket) => aedes.handle(socket));
  try {
    server.listen(options.port ?? 0, host);
    await once(server, 'listening');
  } catch (error) {
    await closeAedes(aedes);
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const url = `mqtt://${host}:${port}`;
  options.logger?.info({ url }, 'embedded MQTT broker listening');
  return {
    url,
    port,
    async close() {
      // Closing aedes first disconnects its clients, so server.close() does not wait on them.
      await closeAedes(aedes);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      options.logger?.info({ url }, 'embedded MQTT broker closed');
    },
  };
}

function closeAedes(aedes: Aedes): Promise<void> {
  return new Promise((resolve) => aedes.close(() => resolve()));
}
