export { openDatabase, type Store, type StoreDatabase, type StoreExecutor } from './db.ts';
export {
  enqueue,
  markSent,
  outboxStats,
  peek,
  recordFailure,
  type OutboxMessage,
  type OutboxRow,
  type OutboxStats,
  type QoS,
} from './outbox.ts';
export { countCases, getCase, readCase, saveScan } from './scans.ts';
export {
  enterLabel,
  getLabels,
  trainingPopulation,
  type LabelEntry,
  type LabelEntryOptions,
  type LabelEntryResult,
  type StoredLabel,
} from './labels.ts';
export { appendAudit, listAudit, type AuditAction, type AuditEntry } from './audit.ts';
