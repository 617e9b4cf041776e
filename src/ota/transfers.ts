import { createHash } from 'node:crypto';
import { open, readdir, readFile, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';

import { eq } from 'drizzle-orm';
import { z } from 'zod';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Store } from '../store/index.ts';
import { modelTransfers } from '../store/schema.ts';

/**
 * Largest chunk accepted, bytes. The model-chunk request carries it as base64 (4/3 of its size)
 * and must also fit fleet.maxRequestBytes, 64 KiB by default and 1 MiB at most.
 */
export const MAX_CHUNK_BYTES = 2 ** 20;
const PART_SUFFIX = '.part';
/** Standard base64 (RFC 4648 section 4) with padding. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const sha256Text = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits');
const transferId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1 to 64 letters, digits, _ or -');

/** Parameters that start or resume a transfer. */
export const transferSchema = z.strictObject({
  /** Chosen by the sender; the same id resumes the transfer. */
  id: transferId,
  /** Archive size, bytes. */
  size: z.number().int().positive(),
  /** SHA-256 of the whole archive, hex. */
  sha256: sha256Text,
  /** Size of every chunk except the last, bytes. */
  chunkSize: z.number().int().positive().max(MAX_CHUNK_BYTES),
});
export type TransferRequest = z.infer<typeof transferSchema>;

/** Parameters of one chunk. */
export const chunkSchema = z.strictObject({
  transferId,
  /** 0-based chunk number. */
  index: z.number().int().min(0),
  /** The chunk's bytes, base64. */
  data: z.string(),
  /** SHA-256 of the chunk, hex; optional, checked when given. */
  sha256: sha256Text.optional(),
});
export type ChunkRequest = z.infer<typeof chunkSchema>;

export interface TransferProgress {
  transferId: string;
  chunkCount: number;
  /** The chunk the receiver expects next; equals chunkCount when complete. */
  nextIndex: number;
  receivedBytes: number;
  size: number;
}

export interface TransferStart extends TransferProgress {
  /** True when the id was known and the transfer continues where it stopped. */
  resumed: boolean;
}

/** A transfer whose last chunk arrived and whose archive matched its SHA-256. */
export interface CompletedTransfer extends TransferProgress {
  archive: Uint8Array;
  activate: boolean;
  requestedBy: string;
}

type TransferRow = typeof modelTransfers.$inferSelect;

function progressOf(row: TransferRow): TransferProgress {
  return {
    transferId: row.transferId,
    chunkCount: row.chunkCount,
    nextIndex: row.nextIndex,
    receivedBytes: row.receivedBytes,
    size: row.size,
  };
}

/**
 * Receives bundle archives in numbered chunks. Chunks are appended in order and each one is
 * synced to disk before its progress is stored, so a transfer resumes after a disconnect or a
 * restart from the first chunk not stored. A chunk sent again (its acknowledgement was lost) is
 * acknowledged without being written twice.
 */
export class ChunkReceiver {
  constructor(
    private readonly store: Store,
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Makes the files agree with the stored progress after a restart: cuts each part file to the
   * bytes recorded, restarts a transfer whose file is gone, and removes files without a transfer.
   */
  async recover(): Promise<void> {
    const rows = this.store.db.select().from(modelTransfers).all();
    const known = new Set(rows.map((row) => `${row.transferId}${PART_SUFFIX}`));
    for (const name of await readdir(this.dir)) {
      if (!known.has(name)) await rm(join(this.dir, name), { force: true });
    }
    for (const row of rows) {
      try {
        await truncate(this.partPath(row.transferId), row.receivedBytes);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        this.update(row.transferId, { nextIndex: 0, receivedBytes: 0 });
        this.logger.warn({ transferId: row.transferId }, 'transfer file missing; restarted at 0');
      }
    }
  }

  /** Starts a transfer, or resumes the one with the same id and the same archive. */
  async start(
    request: TransferRequest,
    activate: boolean,
    requestedBy: string,
  ): Promise<TransferStart> {
    if (request.size > this.maxBytes) {
      throw new BvEdgeError(
        'archive_too_large',
        `The bundle archive has ${request.size} bytes, over the ${this.maxBytes} that ` +
          'models.maxBundleMb allows.',
        { value: request.size },
      );
    }
    const existing = this.find(request.id);
    if (existing) {
      if (existing.sha256 !== request.sha256 || existing.size !== request.size) {
        throw new BvEdgeError(
          'transfer_conflict',
          `Transfer ${request.id} is in progress for another archive (sha256 ` +
            `${existing.sha256}, ${existing.size} bytes). Use a new transfer id, or cancel it ` +
            'with model-transfer-cancel.',
          { value: request.id },
        );
      }
      if (existing.chunkSize !== request.chunkSize) {
        throw new BvEdgeError(
          'transfer_conflict',
          `Transfer ${request.id} uses chunks of ${existing.chunkSize} bytes; resume it with ` +
            'that chunk size, use a new transfer id, or cancel it with model-transfer-cancel.',
          { value: request.id },
        );
      }
      return { ...progressOf(existing), resumed: true };
    }
    const now = new Date().toISOString();
    const row: TransferRow = {
      transferId: request.id,
      size: request.size,
      sha256: request.sha256,
      chunkSize: request.chunkSize,
      chunkCount: Math.ceil(request.size / request.chunkSize),
      nextIndex: 0,
      receivedBytes: 0,
      activate,
      requestedBy,
      createdAt: now,
      updatedAt: now,
    };
    await (await open(this.partPath(request.id), 'w')).close();
    this.store.db.insert(modelTransfers).values(row).run();
    this.logger.info({ transferId: row.transferId, chunks: row.chunkCount }, 'transfer started');
    return { ...progressOf(row), resumed: false };
  }

  /**
   * Stores one chunk and returns the progress, or the completed archive after the last chunk.
   * Rejects a chunk of the wrong size (`chunk_truncated`), a chunk whose own SHA-256 differs
   * (`chunk_checksum_mismatch`), a chunk ahead of the next one expected (`chunk_out_of_order`),
   * and a complete archive whose SHA-256 differs (`archive_checksum_mismatch`, which also
   * discards the transfer).
   */
  async receive(chunk: ChunkRequest): Promise<TransferProgress | CompletedTransfer> {
    const row = this.find(chunk.transferId);
    if (!row) {
      throw new BvEdgeError(
        'transfer_not_found',
        `No transfer ${chunk.transferId} is in progress. Start it with model-install first.`,
        { value: chunk.transferId },
      );
    }
    if (chunk.index < row.nextIndex) return progressOf(row);
    if (chunk.index > row.nextIndex || chunk.index >= row.chunkCount) {
      throw new BvEdgeError(
        'chunk_out_of_order',
        `Chunk ${chunk.index} of transfer ${row.transferId} is not the next one: send chunk ` +
          `${row.nextIndex} of ${row.chunkCount}.`,
        { value: progressOf(row) },
      );
    }
    const data = this.checkChunk(row, chunk);
    await this.append(row, data);
    const next = { nextIndex: row.nextIndex + 1, receivedBytes: row.receivedBytes + data.length };
    this.update(row.transferId, next);
    const progress = { ...progressOf(row), ...next };
    if (progress.nextIndex < row.chunkCount) return progress;
    return this.complete(row, progress);
  }

  /**
   * Cancels a transfer on request: removes its row and part file and returns the progress it
   * had. Throws transfer_not_found when no such transfer is in progress.
   */
  async cancel(transferId: string, requestedBy: string): Promise<unknown> {
    const row = this.find(transferId);
    if (!row) {
      throw new BvEdgeError(
        'transfer_not_found',
        `No transfer ${transferId} is in progress, so there is nothing to cancel.`,
        { value: transferId },
      );
    }
    await this.discard(transferId);
    this.logger.info({ transferId, requestedBy }, 'transfer cancelled');
    return { ...progressOf(row), cancelled: true };
  }

  /** Removes a transfer and its file. */
  async discard(transferId: string): Promise<void> {
    this.store.db.delete(modelTransfers).where(eq(modelTransfers.transferId, transferId)).run();
    await rm(this.partPath(transferId), { force: true });
  }

  private checkChunk(row: TransferRow, chunk: ChunkRequest): Buffer {
    // Buffer.from skips characters outside the base64 alphabet silently, so check them first.
    if (!BASE64.test(chunk.data)) {
      throw new BvEdgeError(
        'chunk_invalid',
        `Chunk ${chunk.index} of transfer ${row.transferId} is not valid base64; send the ` +
          'chunk again, encoded as standard base64 with padding.',
        { value: progressOf(row) },
      );
    }
    const data = Buffer.from(chunk.data, 'base64');
    const last = chunk.index === row.chunkCount - 1;
    const expected = last ? row.size - row.chunkSize * (row.chunkCount - 1) : row.chunkSize;
    if (data.length !== expected) {
      throw new BvEdgeError(
        'chunk_truncated',
        `Chunk ${chunk.index} of transfer ${row.transferId} has ${data.length} bytes; expected ` +
          `${expected}. Send the chunk again.`,
        { value: { ...progressOf(row), found: data.length, expected } },
      );
    }
    if (chunk.sha256 !== undefined) {
      const found = createHash('sha256').update(data).digest('hex');
      if (found !== chunk.sha256) {
        throw new BvEdgeError(
          'chunk_checksum_mismatch',
          `Chunk ${chunk.index} of transfer ${row.transferId} has sha256 ${found}; expected ` +
            `${chunk.sha256}. Send the chunk again.`,
          { value: progressOf(row) },
        );
      }
    }
    return data;
  }

  private async append(row: TransferRow, data: Buffer): Promise<void> {
    const handle = await open(this.partPath(row.transferId), 'r+');
    try {
      await handle.write(data, 0, data.length, row.receivedBytes);
      await handle.truncate(row.receivedBytes + data.length);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async complete(row: TransferRow, progress: TransferProgress): Promise<CompletedTransfer> {
    const archive = await readFile(this.partPath(row.transferId));
    const found = createHash('sha256').update(archive).digest('hex');
    if (found !== row.sha256) {
      await this.discard(row.transferId);
      throw new BvEdgeError(
        'archive_checksum_mismatch',
        `The archive of transfer ${row.transferId} has sha256 ${found}; expected ${row.sha256}. ` +
          'The transfer was discarded; send it again.',
        { value: { found, expected: row.sha256 } },
      );
    }
    return { ...progress, archive, activate: row.activate, requestedBy: row.requestedBy };
  }

  private find(transferId: string): TransferRow | undefined {
    return this.store.db
      .select()
      .from(modelTransfers)
      .where(eq(modelTransfers.transferId, transferId))
      .get();
  }

  private update(
    transferId: string,
    values: Pick<TransferRow, 'nextIndex' | 'receivedBytes'>,
  ): void {
    this.store.db
      .update(modelTransfers)
      .set({ ...values, updatedAt: new Date().toISOString() })
      .where(eq(modelTransfers.transferId, transferId))
      .run();
  }

  private partPath(transferId: string): string {
    return join(this.dir, `${transferId}${PART_SUFFIX}`);
  }
}
