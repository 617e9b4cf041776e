import type { CaptureState } from '../core/frames.ts';

/**
 * Event types that the fleet agent sends on `events`. The outbox publisher sends "outbox-full"
 * and "outbox-ok" on the same topic, and other subsystems may send their own types through
 * FleetAgent.event().
 */
export const FLEET_EVENTS = {
  captureLive: 'capture-live',
  captureNoSignal: 'capture-no-signal',
  captureFrozen: 'capture-frozen',
  captureBlank: 'capture-blank',
  captureError: 'capture-error',
  captureRestarted: 'capture-restarted',
  diskLow: 'disk-low',
  diskOk: 'disk-ok',
  storageQuarantine: 'storage-quarantine',
  storageRetention: 'storage-retention',
  storageBackup: 'storage-backup',
  modelActivated: 'model-activated',
  modelRolledBack: 'model-rolled-back',
  configChanged: 'config-changed',
  requestRejected: 'request-rejected',
} as const;

/** Returns the event type of a capture state, or null for starting and stopped. */
export function captureEventType(state: CaptureState): string | null {
  switch (state) {
    case 'live':
      return FLEET_EVENTS.captureLive;
    case 'no-signal':
      return FLEET_EVENTS.captureNoSignal;
    case 'frozen':
      return FLEET_EVENTS.captureFrozen;
    case 'blank':
      return FLEET_EVENTS.captureBlank;
    case 'error':
      return FLEET_EVENTS.captureError;
    default:
      return null;
  }
}
