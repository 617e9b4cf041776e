/**
 * Every action the audit log records, as "<area>.<verb>". Add a new action here; the table only
 * checks the shape, so no migration is needed.
 */
export const AUDIT_ACTIONS = [
  'label.create',
  'label.update',
  'config.set',
  'capture.restart',
  'model.install',
  'model.activate',
  'model.rollback',
  'model.reject',
  'storage.quarantine',
  'storage.retention',
  'hl7.mrn-delete',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];
