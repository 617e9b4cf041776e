import { join } from 'node:path';

import type { Logger } from '../core/log.ts';
import type { Store } from '../store/db.ts';
import { backupDatabase, backupDue, databaseBytes } from './backup.ts';
import { DiskGuard } from './disk-guard.ts';
import type { StorageEvents } from './events.ts';
import { applyRetention } from './retention.ts';
import type { StorageConfig } from './storage-schema.ts';

export interface StorageCareOptions {
  store: Store;
  config: StorageConfig;
  /** The data folder: its file system is measured and backups/ goes in it by default. */
  dataDir: string;
  events: StorageEvents;
  logger: Logger;
  now?: () => Date;
}

/**
 * Looks after the SQLite store while the daemon runs. It sets the automatic checkpoint size. At
 * start and every maintenance interval it truncates the write-ahead log, checks free disk space,
 * applies retention and takes a backup when one is due. Each step that fails is logged
 * and the others still run, so storage care never stops the daemon. `stop()` checkpoints once
 * more, so the database file is complete without its -wal file.
 */
export class StorageCare {
  readonly diskGuard: DiskGuard;
  private readonly options: StorageCareOptions;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: StorageCareOptions) {
    this.options = options;
    this.logger = options.logger;
    this.now = options.now ?? (() => new Date());
    this.diskGuard = new DiskGuard({
      path: options.dataDir,
      minFreeMb: options.config.minFreeMb,
      logger: options.logger,
      onChange: (low, report) => options.events.emit(low ? 'disk-low' : 'disk-ok', report),
    });
  }

  get backupDir(): string {
    return this.options.config.backups.dir ?? join(this.options.dataDir, 'backups');
  }

  start(): void {
    const pages = this.options.config.walAutocheckpointPages;
    this.options.store.sqlite.pragma(`wal_autocheckpoint = ${pages}`);
    this.runMaintenance();
    const intervalMs = this.options.config.maintenanceIntervalMinutes * 60_000;
    this.timer = setInterval(() => this.runMaintenance(), intervalMs);
    this.timer.unref();
  }

  /** Stops the maintenance timer and checkpoints the write-ahead log into the database file. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.options.store.sqlite.open) this.checkpoint();
  }

  /** Runs every maintenance step once; a step that fails is logged and skipped. */
  runMaintenance(): void {
    this.step('checkpoint', () => this.checkpoint());
    this.step('disk check', () => this.diskGuard.check());
    this.step('retention', () => this.retain());
    this.step('backup', () => this.backupIfDue());
  }

  private step(name: string, action: () => unknown): void {
    try {
      action();
    } catch (error) {
      this.logger.error({ err: error, step: name }, 'storage maintenance step failed');
    }
  }

  private checkpoint(): void {
    const [result] = this.options.store.sqlite.pragma('wal_checkpoint(TRUNCATE)') as {
      busy: number;
      log: number;
      checkpointed: number;
    }[];
    // busy = 1 means a reader held the log; the next run tries again.
    this.logger.debug({ ...result }, 'write-ahead log checkpointed');
  }

  private retain(): void {
    const days = this.options.config.retentionDays;
    if (days === null) return;
    const report = applyRetention(this.options.store, {
      days,
      now: this.now(),
      logger: this.logger,
    });
    if (report.keptQueued.length > 0) {
      this.logger.info(
        { caseIds: report.keptQueued },
        'retention kept old cases whose messages are still queued for the broker',
      );
    }
    if (report.removedCaseIds.length === 0 && report.removedAbandoned === 0) return;
    this.logger.info(
      {
        removed: report.removedCaseIds.length,
        removedAbandoned: report.removedAbandoned,
        cutoff: report.cutoff,
      },
      'retention removed old cases',
    );
    this.options.events.emit('retention', report);
  }

  private backupIfDue(): void {
    const { intervalHours, keep } = this.options.config.backups;
    const now = this.now();
    if (!backupDue(this.backupDir, intervalHours, now)) return;
    const needed = databaseBytes(this.options.store);
    const { freeBytes, floorBytes } = this.diskGuard.check();
    if (freeBytes - needed < floorBytes) {
      this.logger.warn(
        { neededBytes: needed, freeBytes, floorBytes },
        'backup skipped: it would take free disk space below the floor',
      );
      return;
    }
    const report = backupDatabase(this.options.store, { dir: this.backupDir, keep, now });
    this.logger.info(
      { path: report.path, bytes: report.bytes, removed: report.removed.length },
      'database backed up',
    );
    this.options.events.emit('backup', report);
  }
}
