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
export { countCases, getCase, saveScan } from './scans.ts';
