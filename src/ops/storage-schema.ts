import { z } from 'zod';

import { section, setting } from '../config/describe.ts';

const BackupSchema = z.strictObject({
  intervalHours: setting(
    z
      .number()
      .min(1)
      .max(24 * 31),
    24,
    'Hours between database backups, h. Carts are often switched off at night, so a backup ' +
      'runs whenever the newest one is this old, at start or at the next maintenance run.',
  ),
  keep: setting(z.number().int().min(1).max(365), 7, 'Backups kept; older ones are deleted.'),
  dir: setting(
    z.string().min(1).nullable(),
    null,
    'Folder for the backups; null: backups/ in dataDir. Backups on the same disk survive a ' +
      'damaged database file, not a failed disk.',
  ),
});

/** Settings of storage care: checkpoints, retention, the disk-space floor and backups. */
export const StorageSchema = z.strictObject({
  walAutocheckpointPages: setting(
    z.number().int().min(0).max(1_000_000),
    1000,
    'Write-ahead log size, in database pages, at which SQLite copies it back into the database ' +
      "(wal_autocheckpoint; 1000 is SQLite's default); 0 turns automatic checkpoints off.",
  ),
  maintenanceIntervalMinutes: setting(
    z
      .number()
      .min(1)
      .max(24 * 60),
    60,
    'Minutes between maintenance runs, min: a wal_checkpoint(TRUNCATE), the disk-space check, ' +
      'retention and a backup when one is due.',
  ),
  retentionDays: setting(
    z.number().int().min(1).max(36_500).nullable(),
    365,
    'Scanned and abandoned cases older than this are removed, days; cases still queued for ' +
      'the broker are kept. null keeps every case.',
  ),
  minFreeMb: setting(
    z.number().int().min(0).max(100_000_000),
    1024,
    'Free space on the data folder below which new recordings are rejected, MiB.',
  ),
  backups: section(BackupSchema, 'Database backups with VACUUM INTO.'),
});

export type StorageConfig = z.infer<typeof StorageSchema>;
