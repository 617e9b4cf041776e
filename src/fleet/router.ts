import type { z } from 'zod';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { RequestEnvelope, ResponsePayload, type ResponseError } from './payloads.ts';
import { checkCommandName } from './topics.ts';

/** Context of a request handler besides its params. */
export interface RequestContext {
  transactionId: string;
  /** The request's `client` field, e.g. "engineer@laptop"; null when it had none. */
  client: string | null;
  command: string;
  logger: Logger;
}

/**
 * Handles one command. The resolved value becomes the response's `data` and must be JSON. A
 * thrown BvEdgeError becomes `error: {code, message}`; any other error becomes internal_error.
 */
export type RequestHandler<P = unknown> = (params: P, context: RequestContext) => Promise<unknown>;

/** The result of routing one request message. */
export type RouteOutcome =
  | { kind: 'response'; response: ResponsePayload }
  /** No transaction id could be read, so no response can be matched by the client. */
  | { kind: 'rejected'; error: ResponseError };

interface Route {
  handler: RequestHandler;
  paramsSchema: z.ZodType | undefined;
}

export interface RequestRouterOptions {
  logger: Logger;
  /** Largest payload read, bytes; read on every request so that a config change applies. */
  maxRequestBytes: () => number;
}

/** Requests handled at the same time; more get a `busy` error. */
const MAX_CONCURRENT_REQUESTS = 8;
/** Bytes searched for a transaction id in a payload that is too large or not JSON. */
const TRANSACTION_ID_SCAN_BYTES = 4096;
/** Maximum transactionId length, characters, as the response payload schema allows. */
const MAX_TRANSACTION_ID_CHARS = 128;
const TRANSACTION_ID_PATTERN = /"transactionId"\s*:\s*"((?:[^"\\\n]|\\.){1,128})"/;

/**
 * Dispatches `request/<command>` payloads to registered handlers and builds the
 * `{transactionId, status, data, error}` response. Other subsystems add commands with
 * `register`. Every failure becomes an error response, or a rejection when the payload has no
 * readable transaction id; nothing a client sends can throw out of `route`.
 */
export class RequestRouter {
  private readonly routes = new Map<string, Route>();
  private inFlight = 0;

  constructor(private readonly options: RequestRouterOptions) {}

  /**
   * Adds `command`. With `paramsSchema`, the request's params (or `{}` when left out) are parsed
   * by it before the handler runs, and a mismatch gets an invalid_params response naming each
   * key path. Throws when the name is invalid or already registered; call `unregister` first to
   * replace a command.
   */
  register<S extends z.ZodType>(
    command: string,
    handler: RequestHandler<z.output<S>>,
    paramsSchema?: S,
  ): void {
    checkCommandName(command);
    if (this.routes.has(command)) {
      throw new BvEdgeError(
        'command_registered',
        `Fleet command "${command}" is already registered; unregister it first to replace it.`,
        { value: command },
      );
    }
    this.routes.set(command, { handler: handler as RequestHandler, paramsSchema });
  }

  /** Removes `command`; returns false when it was not registered. */
  unregister(command: string): boolean {
    return this.routes.delete(command);
  }

  /** Returns the current fleet.maxRequestBytes, the largest request payload accepted, bytes. */
  maxRequestBytes(): number {
    return this.options.maxRequestBytes();
  }

  /** Registered command names, sorted. */
  commands(): string[] {
    return [...this.routes.keys()].sort();
  }

  /** Routes one request payload received on `request/<command>`. Never rejects. */
  async route(command: string, payload: Buffer): Promise<RouteOutcome> {
    const maxBytes = this.options.maxRequestBytes();
    if (payload.length > maxBytes) {
      return failure(
        scanTransactionId(payload),
        'payload_too_large',
        `The request payload is ${payload.length} bytes, more than fleet.maxRequestBytes ` +
          `(${maxBytes}); send a smaller request or raise that setting.`,
      );
    }
    const text = payload.toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (cause) {
      return failure(
        scanTransactionId(payload),
        'invalid_json',
        `The request payload is not valid JSON (${(cause as Error).message}); send an object ` +
          'such as {"transactionId": "...", "params": {}}.',
      );
    }
    const transactionId = readTransactionId(body);
    const idLength = transactionIdLength(body);
    if (transactionId === null && idLength > MAX_TRANSACTION_ID_CHARS) {
      return failure(
        null,
        'invalid_transaction_id',
        `The request's transactionId is longer than ${MAX_TRANSACTION_ID_CHARS} characters ` +
          `(${idLength}), so no response can be sent; use a shorter id such as a UUID.`,
      );
    }
    if (transactionId === null) {
      return failure(
        null,
        'missing_transaction_id',
        'The request has no transactionId (a string of 1 to 128 characters), so no response can ' +
          'be sent.',
      );
    }
    const envelope = RequestEnvelope.safeParse(body);
    if (!envelope.success) {
      return failure(
        transactionId,
        'invalid_request',
        `Invalid request: ${describeIssues(envelope.error.issues, [])}. Send ` +
          '{"transactionId": "...", "params": {...}, "client": "..."} and nothing else.',
      );
    }
    return this.dispatch(command, envelope.data);
  }

  private async dispatch(command: string, request: RequestEnvelope): Promise<RouteOutcome> {
    const { transactionId } = request;
    const route = this.routes.get(command);
    if (!route) {
      return failure(
        transactionId,
        'unknown_command',
        `Unknown fleet command ${JSON.stringify(command)}. Commands: ${this.commands().join(', ')}.`,
      );
    }
    let params: unknown = request.params;
    if (route.paramsSchema) {
      const parsed = route.paramsSchema.safeParse(request.params ?? {});
      if (!parsed.success) {
        return failure(
          transactionId,
          'invalid_params',
          `Invalid params for ${command}: ${describeIssues(parsed.error.issues, ['params'])}.`,
        );
      }
      params = parsed.data;
    }
    if (this.inFlight >= MAX_CONCURRENT_REQUESTS) {
      return failure(
        transactionId,
        'busy',
        `The device is handling ${this.inFlight} requests; send this one again in a moment.`,
      );
    }
    this.inFlight += 1;
    try {
      return await this.runHandler(command, route.handler, params, request);
    } finally {
      this.inFlight -= 1;
    }
  }

  private async runHandler(
    command: string,
    handler: RequestHandler,
    params: unknown,
    request: RequestEnvelope,
  ): Promise<RouteOutcome> {
    const { transactionId } = request;
    const logger = this.options.logger.child({ command, transactionId });
    let data: unknown;
    try {
      data = await handler(params, {
        transactionId,
        client: request.client ?? null,
        command,
        logger,
      });
    } catch (error) {
      if (error instanceof BvEdgeError) {
        logger.warn({ code: error.code, error: error.message }, 'fleet request failed');
        return failure(transactionId, error.code, error.message);
      }
      logger.error({ err: error }, 'fleet request handler failed unexpectedly');
      return failure(
        transactionId,
        'internal_error',
        `The ${command} command failed unexpectedly; the daemon log has the details.`,
      );
    }
    return this.checkedResponse(command, transactionId, data ?? null, logger);
  }

  /** Builds the ok response, or an error when `data` is not JSON or names a patient. */
  private checkedResponse(
    command: string,
    transactionId: string,
    data: unknown,
    logger: Logger,
  ): RouteOutcome {
    const response = { transactionId, status: 'ok' as const, data, error: null };
    const checked = ResponsePayload.safeParse(response);
    if (!checked.success) {
      logger.error({ issues: checked.error.issues.map((i) => i.message) }, 'response rejected');
      return failure(
        transactionId,
        'response_rejected',
        `The ${command} response was withheld because it failed the payload check; the daemon ` +
          'log has the details.',
      );
    }
    try {
      JSON.stringify(data);
    } catch (error) {
      logger.error({ err: error }, 'response is not JSON');
      return failure(transactionId, 'internal_error', `The ${command} response is not JSON.`);
    }
    return { kind: 'response', response };
  }
}

function failure(transactionId: string | null, code: string, message: string): RouteOutcome {
  if (transactionId === null) return { kind: 'rejected', error: { code, message } };
  return {
    kind: 'response',
    response: { transactionId, status: 'error', data: null, error: { code, message } },
  };
}

function readTransactionId(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const id = (body as Record<string, unknown>).transactionId;
  return typeof id === 'string' && id.length >= 1 && id.length <= MAX_TRANSACTION_ID_CHARS
    ? id
    : null;
}

/** Characters of the body's transactionId string; 0 when it has none. */
function transactionIdLength(body: unknown): number {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 0;
  const id = (body as Record<string, unknown>).transactionId;
  return typeof id === 'string' ? id.length : 0;
}

/**
 * Finds `"transactionId": "..."` near the start of a payload that cannot be parsed whole, so that
 * an oversized or broken request still gets its error response.
 */
export function scanTransactionId(payload: Buffer): string | null {
  const head = payload.subarray(0, TRANSACTION_ID_SCAN_BYTES).toString('utf8');
  const match = TRANSACTION_ID_PATTERN.exec(head);
  if (!match) return null;
  try {
    return JSON.parse(`"${match[1]}"`) as string;
  } catch {
    return null;
  }
}

/** Formats zod issues as "params.lines: expected number, received string; ...". */
export function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[],
): string {
  return issues
    .map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      return keys
        .map((key) => {
          const path = [...prefix, ...issue.path, ...(key === undefined ? [] : [key])];
          const where = path.length === 0 ? '(top level)' : path.map(String).join('.');
          return `${where}: ${key === undefined ? issue.message : 'unknown key'}`;
        })
        .join('; ');
    })
    .join('; ');
}
