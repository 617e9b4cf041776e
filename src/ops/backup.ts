import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

import type { Store } from '../store/db.ts';
import type { BackupReport } from './events.ts';

/** Backup file names: bv-edge-<UTC time>.sqlite, e.g. bv-edge-20250131T091500Z.sqlite. */
const BACKUP_NAME = /^bv-edge-(\d{8}T\d{6}Z)\.sqlite$/;
const PARTIAL_SUFFIX = '.partial';

export interface BackupFile {
  path: string;
  /** When the backup was taken, from its name. */
  takenAt: Date;
}

/** Returns the backups in `dir`, newest first; an absent folder has none. */
export function listBackups(dir: string): BackupFile[] {
  if (!existsSync(dir)) return [];
  const backups: BackupFile[] = [];
  for (const name of readdirSync(dir)) {
    const match = BACKUP_NAME.exec(name);
    if (match) backups.push({ path: join(dir, name), takenAt: parseStamp(match[1]!) });
  }
  return backups.sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime());
}

/** Returns whether the newest backup in `dir` is `intervalHours` old or older, or there is none. */
export function backupDue(dir: string, intervalHours: number, now: Date): boolean {
  const newest = listBackups(dir)[0];
  return !newest || now.getTime() - newest.takenAt.getTime() >= intervalHours * 3_600_000;
}

/**
 * Writes a compacted copy of the database to `dir` with `VACUUM INTO`, which reads one
 * consistent snapshot while other connections keep writing. The copy is written under a
 * `.partial` name and renamed when complete, so a power cut never leaves a truncated file that
 * looks like a backup. Then the newest `keep` backups are kept and older ones deleted.
 */
export function backupDatabase(
  store: Store,
  options: { dir: string; keep: number; now: Date },
): BackupReport {
  mkdirSync(options.dir, { recursive: true });
  removePartials(options.dir);
  const path = join(options.dir, `bv-edge-${formatStamp(options.now)}.sqlite`);
  const partial = path + PARTIAL_SUFFIX;
  store.sqlite.prepare('VACUUM INTO ?').run(partial);
  renameSync(partial, path);
  const removed = listBackups(options.dir)
    .slice(options.keep)
    .map((backup) => backup.path);
  for (const old of removed) rmSync(old, { force: true });
  return { path, bytes: statSync(path).size, removed };
}

/** Bytes the next backup needs at most: the database pages, before VACUUM drops free pages. */
export function databaseBytes(store: Store): number {
  const pages = Number(store.sqlite.pragma('page_count', { simple: true }));
  const pageSize = Number(store.sqlite.pragma('page_size', { simple: true }));
  return pages * pageSize;
}

/** Deletes copies that a crash or power cut interrupted. */
function removePartials(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name.endsWith(PARTIAL_SUFFIX)) rmSync(join(dir, name), { force: true });
  }
}

function formatStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function parseStamp(stamp: string): Date {
  const iso =
    `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T` +
    `${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`;
  return new Date(iso);
}
