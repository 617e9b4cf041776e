export { backupDatabase, backupDue, listBackups, type BackupFile } from './backup.ts';
export { DiskGuard } from './disk-guard.ts';
export {
  StorageEvents,
  type BackupReport,
  type DiskSpaceReport,
  type QuarantineReport,
  type RetentionReport,
  type StorageEventMap,
} from './events.ts';
export { checkDatabaseFile, openCheckedDatabase, type CheckedStore } from './integrity.ts';
export {
  acquireInstanceLock,
  LOCK_FILE_NAME,
  type InstanceLock,
  type InstanceLockOptions,
} from './instance-lock.ts';
export { applyRetention } from './retention.ts';
export { SystemdNotifier } from './sd-notify.ts';
export { StorageCare, type StorageCareOptions } from './storage-care.ts';
export { StorageSchema, type StorageConfig } from './storage-schema.ts';
