import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';
import type { RunResult } from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';

import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import * as schema from './schema.ts';

export type StoreDatabase = BetterSQLite3Database<typeof schema>;

/** A database handle or an open transaction on it, which run the same queries. */
export type StoreExecutor = BaseSQLiteDatabase<'sync', RunResult, typeof schema>;

/** An open bv-edge SQLite database with its migrations applied. */
export interface Store {
  readonly path: string;
  readonly db: StoreDatabase;
  /** The better-sqlite3 connection under `db`, for pragmas and backups. */
  readonly sqlite: Database.Database;
  close(): void;
}

const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));

/** Milliseconds a writer waits for another process's lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if needed) the SQLite database at `path`, applies pending migrations and
 * returns it. Throws BvEdgeError STORE_OPEN_FAILED or STORE_MIGRATION_FAILED.
 */
export function openDatabase(path: string, logger: Logger): Store {
  const sqlite = openConnection(path);
  try {
    const journalMode = configureConnection(sqlite);
    if (journalMode !== 'wal' && path !== ':memory:') {
      logger.warn({ path, journalMode }, 'SQLite did not switch to WAL journal mode');
    }
    const db = drizzle({ client: sqlite, schema });
    applyMigrations(db, path);
    logger.info({ path, journalMode }, 'store opened');
    return createStore(path, db, sqlite, logger);
  } catch (error) {
    sqlite.close();
    throw error;
  }
}

function openConnection(path: string): Database.Database {
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    return new Database(path);
  } catch (error) {
    throw new BvEdgeError(
      'STORE_OPEN_FAILED',
      `Failed to open database ${path}: ${errorMessage(error)}. ` +
        'Check that the folder exists or can be created and is writable by this user.',
      { value: path, cause: error },
    );
  }
}

/** Sets the pragmas every connection needs and returns the journal mode SQLite reports. */
function configureConnection(sqlite: Database.Database): string {
  const journalMode = String(sqlite.pragma('journal_mode = WAL', { simple: true }));
  // Carts lose power without warning, so every commit is synced to disk (FULL) rather than
  // trading the last transactions for speed (NORMAL).
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // Deleted rows are overwritten with zeros instead of left in free pages, so a deleted MRN cannot
  // be read back from the file (https://www.sqlite.org/pragma.html#pragma_secure_delete).
  sqlite.pragma('secure_delete = ON');
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return journalMode;
}

/**
 * Copies the write-ahead log into the database file and truncates the log to zero bytes, so that
 * older page versions in the log (which may still contain deleted rows) are gone from the disk.
 * Call it after deleting personal data. Returns false when a reader kept SQLite from finishing,
 * and then the log is erased at a later call or when the last connection closes.
 */
export function eraseWal(store: Store): boolean {
  if (store.path === ':memory:') return true;
  const [result] = store.sqlite.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
  return result?.busy === 0;
}

function applyMigrations(db: StoreDatabase, path: string): void {
  try {
    migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  } catch (error) {
    throw new BvEdgeError(
      'STORE_MIGRATION_FAILED',
      `Failed to migrate database ${path}: ${errorMessage(error)}. ` +
        'The file may come from a newer bv-edge or be damaged; ' +
        'move it aside and restart to create a fresh one.',
      { value: path, cause: error },
    );
  }
}

function createStore(
  path: string,
  db: StoreDatabase,
  sqlite: Database.Database,
  logger: Logger,
): Store {
  return {
    path,
    db,
    sqlite,
    close() {
      if (!sqlite.open) return;
      sqlite.close();
      logger.info({ path }, 'store closed');
    },
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
