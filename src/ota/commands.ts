// Fleet requests of model delivery: model-install (an HTTPS URL or the start of a chunked
// transfer), model-chunk, model-activate and model-rollback. Each response goes to
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
export const rollbackParams = z.strictObject({ reason: z.string().max(500).optional() });

/** Audit actor of a fleet request. */
function actorOf(context: RequestContext): string {
  return `fleet:${context.client ?? 'unknown'}`;
}

export async function handleInstall(
  manager: ModelManager,
  params: z.output<typeof installParams>,
  context: RequestContext,
): Promise<unknown> {
  const request = { actor: actorOf(context), activate: params.activate };
  if (params.url !== undefined) {
    return manager.installUrl(params.url, params.sha256!, request);
  }
  const started = await manager.transfers.start(params.transfer!, params.activate, request.actor);
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
    (params, context) => handleInstall(manager, params, context),
    installParams,
  );
  router.register('model-chunk', (params) => handleChunk(manager, params), chunkSchema);
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
