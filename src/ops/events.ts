import { EventEmitter } from 'node:events';

import type { Logger } from '../core/log.ts';

/** A database file that failed its start-up check and was moved aside. */
export interface QuarantineReport {
  /** Path of the database, which is now a fresh, empty database. */
  path: string;
  /** New paths of the damaged file and its -wal and -shm files, in that order when present. */
  movedTo: string[];
  /** The problem that `PRAGMA quick_check` or SQLite reported. */
  reason: string;
  /** ISO 8601 UTC time of the move. */
  at: string;
}

export interface RetentionReport {
  /** Scanned cases removed with their views, estimates, labels and audit entries. */
  removedCaseIds: string[];
  /** Abandoned workflow cases removed. */
  removedAbandoned: number;
  /** Old cases kept because the outbox still contains a message about them. */
  keptQueued: string[];
  /** Old cases kept because another table still references them. */
  keptReferenced: string[];
  /** Cases created before this ISO 8601 UTC time were due. */
  cutoff: string;
}

export interface BackupReport {
  path: string;
  bytes: number;
  /** Older backups deleted by the rotation. */
  removed: string[];
}

export interface DiskSpaceReport {
  path: string;
  freeBytes: number;
  floorBytes: number;
}

/** Payload of each storage event, keyed by event name. */
export interface StorageEventMap {
  quarantine: QuarantineReport;
  retention: RetentionReport;
  backup: BackupReport;
  /** Free space fell below the floor: new recordings are rejected until it recovers. */
  'disk-low': DiskSpaceReport;
  /** Free space is back above the floor. */
  'disk-ok': DiskSpaceReport;
}

export type StorageEventName = keyof StorageEventMap;

/**
 * Delivers storage events to listeners such as the fleet agent, which can publish them. A
 * listener that throws is logged and never stops storage care.
 */
export class StorageEvents {
  private readonly emitter = new EventEmitter();
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  /** Calls `listener` for each `name` event until the returned function is called. */
  on<K extends StorageEventName>(
    name: K,
    listener: (payload: StorageEventMap[K]) => void,
  ): () => void {
    const guarded = (payload: StorageEventMap[K]): void => {
      try {
        listener(payload);
      } catch (error) {
        this.logger.error({ err: error, event: name }, 'storage event listener failed');
      }
    };
    this.emitter.on(name, guarded);
    return () => {
      this.emitter.off(name, guarded);
    };
  }

  emit<K extends StorageEventName>(name: K, payload: StorageEventMap[K]): void {
    this.emitter.emit(name, payload);
  }
}
