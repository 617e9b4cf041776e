import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

import { serve } from '@hono/node-server';
import { Hono } from 'hono';

import { estimateMessage } from '../mqtt/payload.ts';
import { renderStatusPage } from './page.ts';
import type { StatusResponse, StatusSnapshot } from './types.ts';

// The page has no scripts and only inline styles, so everything else is blocked.
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

/** Creates the status app: GET / (HTML), GET /api/status (JSON) and GET /healthz. */
export function createStatusApp(getStatus: () => StatusSnapshot): Hono {
  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  });
  app.get('/', (c) => c.html(renderStatusPage(getStatus())));
  app.get('/api/status', (c) => c.json(toStatusResponse(getStatus())));
  app.get('/healthz', (c) => c.text('ok'));
  return app;
}

export function toStatusResponse(snapshot: StatusSnapshot): StatusResponse {
  return {
    startedAt: snapshot.startedAt,
    mqtt: { connected: snapshot.mqttConnected },
    outbox: snapshot.outbox,
    latestEstimate: snapshot.latestScan ? estimateMessage(snapshot.latestScan) : null,
    capture: snapshot.capture ?? null,
    executionProviders: snapshot.executionProviders ?? null,
    bundles: snapshot.bundles ?? null,
    model: snapshot.model ?? null,
    hl7: snapshot.hl7 ?? null,
    diskFreeBytes: snapshot.diskFreeBytes ?? null,
    diskLow: snapshot.diskLow ?? false,
  };
}

export interface StatusServer {
  /** e.g. "http://127.0.0.1:41234/". */
  url: string;
  close(): Promise<void>;
}

/** Serves `app` on `host`:`port`; port 0 picks a free port. */
export async function serveStatus(
  app: Hono,
  options: { host: string; port: number },
): Promise<StatusServer> {
  const server = serve({ fetch: app.fetch, hostname: options.host, port: options.port });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Event streams stay open until the client leaves, so close() ends every connection.
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}
