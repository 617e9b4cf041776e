import { Hono, type Context, type MiddlewareHandler } from 'hono';

import type { Secret } from '../config/index.ts';
import type { CaptureState, FrameSource } from '../core/frames.ts';
import type { Logger } from '../core/log.ts';
import type { WorkflowEvent } from '../workflow/events.ts';
import { requireToken, storeTokenCookie, TokenCheck } from './auth.ts';
import { createCasesApi, type CasesApiOptions } from './cases.ts';
import { EventHub, streamEvents } from './event-stream.ts';
import { isPageLanguage, type PageLanguage } from './languages.ts';
import type { DaemonMetrics } from './metrics.ts';
import { PreviewRenderer } from './preview.ts';
import { notice } from '../notices/index.ts';
import { errorProblem, ProblemError, problemResponse } from './problem.ts';
import { loadPageAssets, renderLogin, renderShell } from './shell.ts';
import { toStatusResponse } from './status.ts';
import type { StatusSnapshot } from './types.ts';

/**
 * The page loads its script, style sheet, images and event stream from this origin only, and
 * nothing may frame it.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The page's icon: a red drop on white, 32 × 32 px. */
const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">' +
  '<rect width="32" height="32" rx="6" fill="#fff"/>' +
  '<path d="M16 3C16 3 6 15 6 21a10 10 0 0 0 20 0C26 15 16 3 16 3z" fill="#b00020"/>' +
  '</svg>';

/** Conditions that /readyz checks. */
export interface Readiness {
  storeOpen: boolean;
  modelsLoaded: boolean;
  /** State of the live capture; null when the daemon has none. */
  captureState: CaptureState | null;
  /** Reason that capture is not live, with the fix where one is known; null when unknown or live. */
  captureReason?: string | null;
  /** Reason that new recordings are rejected, e.g. low disk space; null when they are accepted. */
  recordingBlocked?: string | null;
}

export interface HttpAppOptions {
  /** Language the page starts in. */
  language: PageLanguage;
  /** Hemoglobin unit preselected in the label form, e.g. "g/dL". */
  hbUnit: string;
  /** When set, the API, the event stream, the previews and /metrics require it. */
  token?: Secret | null;
  logger: Logger;
  readStatus: () => StatusSnapshot;
  readiness: () => Readiness;
  /** Workflow events, forwarded to the page's event stream. */
  events?: { onAny(listener: (event: WorkflowEvent) => void): () => void };
  /** Live frames for the previews; without it the preview routes return 503. */
  frames?: FrameSource;
  cases?: CasesApiOptions;
  metrics?: DaemonMetrics;
  /** Further API routes by mount path, e.g. { '/api/workflow': workflowApi }, behind the token. */
  routes?: Readonly<Record<string, Hono>>;
}

export interface HttpApp {
  app: Hono;
  /** Stops listening to the workflow and the frame source. */
  close(): void;
}

/**
 * Creates the app of the touchscreen page: the page shell and its assets, the JSON API, the
 * event stream, the previews, /healthz, /readyz and /metrics.
 */
export function createHttpApp(options: HttpAppOptions): HttpApp {
  const { logger } = options;
  const app = new Hono();
  const assets = loadPageAssets();
  const hub = new EventHub();
  const check = options.token ? new TokenCheck(options.token.reveal()) : null;
  const preview = options.frames ? new PreviewRenderer(options.frames, logger) : null;
  const stopEvents = options.events?.onAny((event) => {
    if (event.type === 'case-closed') options.metrics?.countEstimate();
    hub.publish(event.type, event);
  });

  app.use('*', async (c, next) => {
    await next();
    c.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('Cache-Control', 'no-store');
  });
  app.get('/healthz', (c) => c.text('ok'));
  app.get('/readyz', (c) => readyResponse(c, options.readiness()));
  if (!check) app.use('*', requireLoopbackHost(logger));
  app.get('/assets/app.js', (c) => asset(c, assets.appJs, 'text/javascript'));
  app.get('/assets/messages.js', (c) => asset(c, assets.messagesJs, 'text/javascript'));
  app.get('/assets/app.css', (c) => asset(c, assets.appCss, 'text/css'));
  // The shell links /favicon.svg, but a browser that has not read the link yet, or ignores it,
  // requests /favicon.ico, so that name serves the same SVG icon.
  app.get('/favicon.ico', (c) => asset(c, FAVICON_SVG, 'image/svg+xml'));
  app.get('/favicon.svg', (c) => asset(c, FAVICON_SVG, 'image/svg+xml'));
  app.get('/', (c) => pageResponse(c, options, check));
  app.post('/login', (c) => loginResponse(c, options, check));
  app.use('/api/*', rejectForeignWrites(logger));
  if (check) {
    app.use('/api/*', requireToken(check));
    app.use('/metrics', requireToken(check));
  }
  app.get('/metrics', async (c) => {
    if (!options.metrics) {
      throw new ProblemError(404, 'not_found', notice('notice.http.noMetrics'));
    }
    const { contentType, body } = await options.metrics.render();
    return c.body(body, 200, { 'Content-Type': contentType });
  });
  app.get('/api/status', (c) => c.json(toStatusResponse(options.readStatus())));
  app.get('/api/events', (c) => streamEvents(c, hub, () => toStatusResponse(options.readStatus())));
  app.get('/api/preview/lumen.png', (c) => pngResponse(c, preview?.lumenPreview() ?? null));
  app.get('/api/preview/setup.png', (c) => pngResponse(c, preview?.setupPreview() ?? null));
  if (options.cases) app.route('/api/cases', createCasesApi(options.cases));
  for (const [path, routes] of Object.entries(options.routes ?? {})) app.route(path, routes);
  app.notFound((c) => {
    const noRoute = notice('notice.http.noRoute', { path: c.req.path });
    return problemResponse(c, new ProblemError(404, 'not_found', noRoute).problem);
  });
  app.onError((error, c) => errorProblem(c, error, {}, logger));
  return {
    app,
    close: () => {
      stopEvents?.();
      preview?.close();
    },
  };
}

/** HTTP methods that change data. */
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Rejects a request that changes data when a page of another site could have sent it. Its
 * content type must be application/json, which a browser sends across origins only after a CORS
 * preflight that this API never grants. An Origin header, where present, must name this server's
 * own host and port. Without this check any page open in the cart's browser could post a form
 * (text/plain or form-urlencoded) to e.g. /api/workflow/abandon. Requests without a body are
 * checked too, so the page sends the content type on every write.
 */
function rejectForeignWrites(logger: Logger): MiddlewareHandler {
  return async (c, next) => {
    if (!WRITE_METHODS.has(c.req.method)) return next();
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      logger.info(
        { path: c.req.path, contentType: type },
        'write without a JSON content type rejected',
      );
      const detail = notice('notice.request.unsupportedMediaType', { type: type || 'none' });
      return problemResponse(c, new ProblemError(415, 'unsupported_media_type', detail).problem);
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && originHost(origin) !== c.req.header('host')?.toLowerCase()) {
      logger.warn({ path: c.req.path, origin }, 'write from another origin rejected');
      const detail = notice('notice.request.crossOrigin', { origin });
      return problemResponse(c, new ProblemError(403, 'cross_origin', detail).problem);
    }
    return next();
  };
}

/** Host names of the loopback interface, as a browser on the cart writes them in Host. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Rejects a request whose Host header names anything but the loopback interface. Without a token
 * the server listens on loopback only, so another name means a web page that rebound its own DNS
 * name to 127.0.0.1 to read cases or post to the API with its own origin (DNS rebinding).
 */
function requireLoopbackHost(logger: Logger): MiddlewareHandler {
  return async (c, next) => {
    const host = c.req.header('host');
    if (host === undefined) return next();
    const name = host.toLowerCase().replace(/:\d+$/, '');
    if (LOOPBACK_HOSTS.has(name)) return next();
    logger.warn({ path: c.req.path, host }, 'request for another host name rejected');
    const detail = notice('notice.request.foreignHost', { host });
    return problemResponse(c, new ProblemError(403, 'foreign_host', detail).problem);
  };
}

/**
 * Returns the host and port of an Origin header as a Host header writes them (the port only
 * when it is not the scheme's default), or null for "null" and other values that are no URL.
 */
function originHost(origin: string): string | null {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}

function asset(c: Context, body: string, type: string): Response {
  return c.body(body, 200, { 'Content-Type': `${type}; charset=utf-8` });
}

function pngResponse(c: Context, png: Buffer | null): Response {
  if (!png) {
    const noFrame = notice('notice.http.noFrame');
    return problemResponse(c, new ProblemError(503, 'no_frame', noFrame).problem);
  }
  return c.body(new Uint8Array(png), 200, { 'Content-Type': 'image/png' });
}

function readyResponse(c: Context, readiness: Readiness): Response {
  const reasons: string[] = [];
  if (!readiness.storeOpen) reasons.push('The store is not open.');
  if (!readiness.modelsLoaded) reasons.push('The models are not loaded.');
  if (readiness.captureState !== null && readiness.captureState !== 'live') {
    const reason = readiness.captureReason ? `: ${readiness.captureReason}` : '';
    reasons.push(`Capture is ${readiness.captureState}, not live${reason.replace(/\.$/, '')}.`);
  }
  if (readiness.recordingBlocked) reasons.push(readiness.recordingBlocked);
  return c.json({ ready: reasons.length === 0, reasons }, reasons.length === 0 ? 200 : 503);
}

/**
 * Serves the page shell. With a token configured, a request without it gets the sign-in form.
 * A valid `?token=` is stored in the cookie and the page redirects to itself without it, so the
 * token does not stay in the address bar or the history.
 */
function pageResponse(
  c: Context,
  options: HttpAppOptions,
  check: TokenCheck | null,
): Response | Promise<Response> {
  const requested = c.req.query('lang');
  const language = requested && isPageLanguage(requested) ? requested : options.language;
  if (check && !check.allows(c)) {
    const token = c.req.query('token');
    if (token !== undefined && check.matches(token)) {
      storeTokenCookie(c, token);
      return c.redirect('/', 303);
    }
    return c.html(renderLogin(language, token !== undefined), token === undefined ? 200 : 401);
  }
  return c.html(renderShell(language, options.hbUnit));
}

async function loginResponse(
  c: Context,
  options: HttpAppOptions,
  check: TokenCheck | null,
): Promise<Response> {
  if (!check) return c.redirect('/', 303);
  const form = await c.req.parseBody();
  const token = typeof form['token'] === 'string' ? form['token'] : '';
  const requested = typeof form['language'] === 'string' ? form['language'] : '';
  const language = isPageLanguage(requested) ? requested : options.language;
  if (!check.matches(token)) {
    options.logger.warn('page sign-in with an invalid token');
    return c.html(renderLogin(language, true), 401);
  }
  storeTokenCookie(c, token);
  return c.redirect('/', 303);
}
