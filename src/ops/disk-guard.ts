import { statfsSync } from 'node:fs';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { notice } from '../notices/index.ts';
import type { DiskSpaceReport } from './events.ts';

const BYTES_PER_MB = 1024 * 1024;

export interface DiskGuardOptions {
  /** Folder whose file system is measured: the data folder. */
  path: string;
  /** Free space below which new recordings are rejected, MiB. */
  minFreeMb: number;
  logger: Logger;
  /** Called when free space crosses the floor, in either direction. */
  onChange?: (low: boolean, report: DiskSpaceReport) => void;
}

/**
 * Rejects new recordings while the data folder's file system has less free space than the floor,
 * so that a full disk never stops the store from saving a case. Free space is what an
 * unprivileged process may use (statfs f_bavail).
 */
export class DiskGuard {
  private readonly options: DiskGuardOptions;
  private low = false;

  constructor(options: DiskGuardOptions) {
    this.options = options;
  }

  get floorBytes(): number {
    return this.options.minFreeMb * BYTES_PER_MB;
  }

  /** Measures free space, logs and reports a crossing of the floor, and returns the figures. */
  check(): DiskSpaceReport & { low: boolean } {
    const stats = statfsSync(this.options.path);
    const report = {
      path: this.options.path,
      freeBytes: stats.bavail * stats.bsize,
      floorBytes: this.floorBytes,
    };
    const low = report.freeBytes < report.floorBytes;
    if (low !== this.low) {
      this.low = low;
      const fields = {
        path: report.path,
        freeMb: toMb(report.freeBytes),
        floorMb: toMb(report.floorBytes),
      };
      if (low)
        this.options.logger.warn(
          fields,
          'free disk space below the floor; recordings are rejected',
        );
      else this.options.logger.info(fields, 'free disk space back above the floor');
      this.options.onChange?.(low, report);
    }
    return { ...report, low };
  }

  /**
   * Returns why new recordings are rejected, for readiness checks; null while free space is at or
   * above the floor.
   */
  recordingBlocked(): string | null {
    let report: ReturnType<DiskGuard['check']>;
    try {
      report = this.check();
    } catch (error) {
      return `Free disk space of ${this.options.path} could not be read: ${(error as Error).message}.`;
    }
    const { low, freeBytes, floorBytes, path } = report;
    if (!low) return null;
    return (
      `Recordings are rejected: only ${toMb(freeBytes)} MiB are free on the disk of ${path}, ` +
      `below the floor of ${toMb(floorBytes)} MiB (storage.minFreeMb). Free space on the cart ` +
      'or lower storage.minFreeMb.'
    );
  }

  /** Throws BvEdgeError `insufficient_storage` when free space is below the floor. */
  assertCanRecord(view: string): void {
    const { low, freeBytes, floorBytes, path } = this.check();
    if (!low) return;
    const params = { view, freeMb: toMb(freeBytes), path, floorMb: toMb(floorBytes) };
    const message = notice('notice.ops.diskLow', params);
    this.options.logger.warn(
      { view, freeMb: toMb(freeBytes), floorMb: toMb(floorBytes) },
      'recording rejected: disk space low',
    );
    throw new BvEdgeError('insufficient_storage', message, { value: freeBytes });
  }
}

function toMb(bytes: number): number {
  return Math.floor(bytes / BYTES_PER_MB);
}
