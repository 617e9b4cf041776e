// Fleet requests of model delivery: model-install (an HTTPS URL or the start of a chunked
// transfer), model-chunk, model-transfer-cancel, model-activate and model-rollback. Each response goes to
// response/<command>, and the steps after it (activation between cases, the health gate) are
// reported as events.
import { z } from 'zod';

import { BvEdgeError } from '../core/errors.ts';
import type { RequestContext, RequestRouter } from '../fleet/index.ts';
import type { ModelManager } from './manager.ts';
import { chunkSchema, transferSchema, type CompletedTransfer } from './transfers.ts';

const sha256Text = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits');

/** Params of model-install: exactly one of `url` (with `sha256`) and `transfer`. */
export const installParams = z
  .strictObject({
    /** https:// URL of the archive. */
    url: z.string().min(1).optional(),
    /** SHA-256 of the archive at `url`, hex. */
    sha256: sha256Text.optional(),
    /** Starts or resumes a chunked transfer; the chunks follow as model-chunk requests. */
    transfer: transferSchema.optional(),
    /** Activate the bundle once installed (between cases). Default true. */
    activate: z.boolean().default(true),
  })
  .refine((params) => (params.url === undefined) !== (params.transfer === undefined), {
    message: 'give either url (with sha256) or transfer',
  })
  .refine((params) => params.url === undefined || params.sha256 !== undefined, {
    message: 'url needs sha256, the checksum of the archive',
    path: ['sha256'],
  });

export const activateParams = z.strictObject({ version: z.string().min(1) });
export const cancelParams = z.strictObject({ transferId: transferSchema.shape.id });

/**
 * Bytes of a model-chunk request besides its base64 data: the envelope, a transaction id and
 * client of up to 128 characters each, the transfer id, index and chunk SHA-256, with room for
 * whitespace.
 */
const CHUNK_REQUEST_OVERHEAD_BYTES = 1024;

/** Returns the largest chunk whose model-chunk request fits `maxRequestBytes`, bytes. */
export function maxChunkBytes(maxRequestBytes: number): number {
  // Base64 takes 4 characters for every 3 bytes.
  return Math.max(0, Math.floor((maxRequestBytes - CHUNK_REQUEST_OVERHEAD_BYTES) / 4) * 3);
}
export const rollbackParams = z.strictObject({ reason: z.string().max(500).optional() });

/** Audit actor of a fleet request. */
function actorOf(context: RequestContext): string {
  return `fleet:${context.client ?? 'unknown'}`;
}

export async function handleInstall(
  manager: ModelManager,
  params: z.output<typeof installParams>,
  context: RequestContext,
  maxRequestBytes: () => number,
): Promise<unknown> {
  const request = { actor: actorOf(context), activate: params.activate };
  if (params.url !== undefined) {
    return manager.installUrl(params.url, params.sha256!, request);
  }
  const transfer = params.transfer!;
  const maxRequest = maxRequestBytes();
  const largest = maxChunkBytes(maxRequest);
  if (transfer.chunkSize > largest) {
    throw new BvEdgeError(
      'chunk_size_too_large',
      `transfer.chunkSize ${transfer.chunkSize} is too large: each chunk travels as base64 in a ` +
        `model-chunk request, which must fit fleet.maxRequestBytes (${maxRequest}), so chunks ` +
        `may have at most ${largest} bytes. Use a smaller chunkSize or raise that setting.`,
      { value: transfer.chunkSize },
    );
  }
  const started = await manager.transfers.start(transfer, params.activate, request.actor);
  manager.events.emit('model-transfer-progress', { ...started });
  return started;
}

/**
 * Stores one chunk and acknowledges it with the progress. After the last chunk the archive is
 * installed and the response contains the install outcome. A rejected chunk gets an error with
 * its reason and the chunk to send next.
 */
export async function handleChunk(
  manager: ModelManager,
  params: z.output<typeof chunkSchema>,
): Promise<unknown> {
  let progress;
  try {
    progress = await manager.transfers.receive(params);
  } catch (error) {
    if (!(error instanceof BvEdgeError)) throw error;
    const details = { transferId: params.transferId, index: params.index, code: error.code };
    manager.events.emit('model-chunk-rejected', { ...details, reason: error.message });
    if (error.code === 'archive_checksum_mismatch') {
      manager.recordRejection('chunks', null, 'fleet:transfer', error);
    }
    throw error;
  }
  if (!('archive' in progress)) return progress;
  return installTransfer(manager, progress);
}

async function installTransfer(
  manager: ModelManager,
  transfer: CompletedTransfer,
): Promise<unknown> {
  const { archive, activate, requestedBy, ...progress } = transfer;
  try {
    const outcome = await manager.installBytes(archive, 'chunks', { actor: requestedBy, activate });
    return { ...progress, install: outcome };
  } finally {
    // Installed or rejected, the transfer is over; a new attempt starts a new transfer.
    await manager.transfers.discard(transfer.transferId);
  }
}

/**
 * Runs an activation or rollback and returns its result. While a case is open it returns
 * `waiting-for-case` at once, and the switch happens when the case ends and is reported as an
 * event.
 */
async function switchBetweenCases(
  manager: ModelManager,
  version: string | null,
  run: () => Promise<unknown>,
): Promise<unknown> {
  if (version !== null && !manager.bundleStore.isInstalled(version)) {
    const installed = (await manager.bundleStore.installedVersions()).join(', ') || 'none';
    throw new BvEdgeError(
      'bundle_not_installed',
      `Bundle version ${version} is not installed (installed: ${installed}). Install it first.`,
      { value: version },
    );
  }
  if (!manager.isCaseOpen()) return run();
  run().catch(() => undefined);
  return { state: 'waiting-for-case', version };
}

/** Registers the model commands on the fleet router. */
export function registerModelCommands(router: RequestRouter, manager: ModelManager): void {
  router.register(
    'model-install',
    (params, context) => handleInstall(manager, params, context, () => router.maxRequestBytes()),
    installParams,
  );
  router.register('model-chunk', (params) => handleChunk(manager, params), chunkSchema);
  router.register(
    'model-transfer-cancel',
    (params, context) => manager.transfers.cancel(params.transferId, actorOf(context)),
    cancelParams,
  );
  router.register(
    'model-activate',
    (params, context) =>
      switchBetweenCases(manager, params.version, () =>
        manager.activate(params.version, actorOf(context)),
      ),
    activateParams,
  );
  router.register(
    'model-rollback',
    (params, context) =>
      switchBetweenCases(manager, null, () =>
        manager.rollback(actorOf(context), params.reason ?? `requested by ${actorOf(context)}`),
      ),
    rollbackParams,
  );
}
