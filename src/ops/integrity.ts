import { existsSync, renameSync } from 'node:fs';

import Database from 'better-sqlite3';

import type { Logger } from '../core/log.ts';
import { appendAudit } from '../store/audit.ts';
import { openDatabase, type Store } from '../store/db.ts';
import type { QuarantineReport } from './events.ts';

/** Problems of `PRAGMA quick_check` kept in the report; the rest are counted. */
const MAX_REPORTED_PROBLEMS = 5;

export interface CheckedStore {
  store: Store;
  /** Set when the file failed its check and was replaced by a fresh database. */
  quarantine: QuarantineReport | null;
}

/**
 * Opens the database at `path` after `PRAGMA quick_check` on it. A file that SQLite reports as
 * damaged or not a database is renamed with a time stamp, with its -wal and -shm files, and never
 * deleted. A fresh database takes its place, and the move is written to the new database's audit
 * log as `storage.quarantine`. Other failures, such as a missing permission, are thrown as
 * openDatabase throws them.
 */
export function openCheckedDatabase(
  path: string,
  logger: Logger,
  now: () => Date = () => new Date(),
): CheckedStore {
  const reason = checkDatabaseFile(path);
  if (reason === null) return { store: openDatabase(path, logger), quarantine: null };
  const at = now();
  const movedTo = quarantineFiles(path, at);
  const report: QuarantineReport = { path, movedTo, reason, at: at.toISOString() };
  logger.error(
    report,
    'database failed its integrity check; moved it aside and created a fresh one',
  );
  const store = openDatabase(path, logger);
  appendAudit(store.db, {
    actor: 'bv-edge',
    at: report.at,
    action: 'storage.quarantine',
    caseId: null,
    before: null,
    after: { movedTo, reason },
  });
  return { store, quarantine: report };
}

/**
 * Runs `PRAGMA quick_check` on the file at `path` and returns what is wrong with it, or null when
 * it passes or does not exist yet. quick_check verifies the b-tree structure of every table and
 * index but not index contents, so it takes seconds where integrity_check can take minutes.
 */
export function checkDatabaseFile(path: string): string | null {
  if (path === ':memory:' || !existsSync(path)) return null;
  let sqlite: Database.Database | undefined;
  try {
    // Read-only, so that closing this connection never checkpoints or deletes the -wal file of a
    // damaged database before it is moved aside.
    sqlite = new Database(path, { fileMustExist: true, readonly: true });
    const rows = sqlite.pragma('quick_check') as { quick_check: string }[];
    const problems = rows.map((row) => row.quick_check).filter((text) => text !== 'ok');
    if (problems.length === 0) return null;
    const shown = problems.slice(0, MAX_REPORTED_PROBLEMS).join('; ');
    const more = problems.length - MAX_REPORTED_PROBLEMS;
    return more > 0 ? `${shown}; and ${more} more problems` : shown;
  } catch (error) {
    if (isCorruption(error)) return (error as Error).message;
    throw error;
  } finally {
    sqlite?.close();
  }
}

/** SQLite result codes that mean the file content is damaged rather than unreachable. */
function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'))
  );
}

/**
 * Renames the database and its -wal and -shm files to `<path>.corrupt-<time>`, keeping the
 * suffixes, so that the sqlite3 shell opens the moved copy with its write-ahead log.
 */
function quarantineFiles(path: string, at: Date): string[] {
  const base = freeQuarantineName(path, at);
  const movedTo: string[] = [];
  for (const suffix of ['', '-wal', '-shm']) {
    if (!existsSync(path + suffix)) continue;
    renameSync(path + suffix, base + suffix);
    movedTo.push(base + suffix);
  }
  return movedTo;
}

function freeQuarantineName(path: string, at: Date): string {
  const stamp = at.toISOString().replace(/[:.]/g, '-');
  let base = `${path}.corrupt-${stamp}`;
  for (let n = 2; existsSync(base) || existsSync(`${base}-wal`); n += 1) {
    base = `${path}.corrupt-${stamp}-${n}`;
  }
  return base;
}
