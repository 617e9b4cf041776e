import type { Hl7Summary } from '../http/types.ts';
import type { StoreExecutor } from '../store/db.ts';
import {
  countPendingHl7,
  findHl7ByEstimate,
  lastAcknowledgedHl7,
  nextPendingHl7,
} from './outbox.ts';

/**
 * State of the HL7 push:
 * - `idle`: nothing sent yet.
 * - `queued`: a message waits to be sent.
 * - `sending`: a message is in flight.
 * - `retrying`: the oldest pending message failed and waits for its next attempt.
 * - `delivered`, `rejected`: how the last message ended, with none pending.
 */
export type Hl7State = 'idle' | 'queued' | 'sending' | 'retrying' | 'delivered' | 'rejected';

/** The most recent failure or rejection, for the page. Never contains the MRN. */
export interface Hl7ErrorSummary {
  controlId: string;
  caseId: string;
  /** ISO 8601 time of the failure. */
  at: string;
  /** MSA-1 of a rejection (AE, AR, CE, CR); null for a transport failure. */
  ackCode: string | null;
  message: string;
}

/** Status of the HL7 push, for GET /api/hl7/status and the status page. */
export interface Hl7Status {
  state: Hl7State;
  /** One sentence for the page. */
  detail: string;
  /** Messages not yet acknowledged. */
  pending: number;
  lastError: Hl7ErrorSummary | null;
  /** Config hl7.allowResearchPush: whether estimates of bundles not cleared clinically are sent. */
  researchPushAllowed: boolean;
}

/** Builds the status from the outbox and the service's in-memory state. */
export function readHl7Status(
  executor: StoreExecutor,
  live: { sending: boolean; lastError: Hl7ErrorSummary | null; researchPushAllowed: boolean },
): Hl7Status {
  const pending = countPendingHl7(executor);
  const head = nextPendingHl7(executor);
  const lastError = live.lastError ?? storedError(executor, head);
  const base = { pending, lastError, researchPushAllowed: live.researchPushAllowed };
  if (live.sending) {
    return { ...base, state: 'sending', detail: `Sending message ${head?.controlId ?? ''}.` };
  }
  if (head && head.attempts > 0) {
    const detail =
      `Attempt ${head.attempts} of message ${head.controlId} failed (${head.lastError ?? 'unknown error'}); ` +
      `next attempt at ${head.nextAttemptAt}.`;
    return { ...base, state: 'retrying', detail };
  }
  if (head)
    return { ...base, state: 'queued', detail: `${pending} message(s) waiting to be sent.` };
  const last = lastAcknowledgedHl7(executor);
  if (!last) return { ...base, state: 'idle', detail: 'No estimate has been pushed yet.' };
  if (last.status === 'rejected') {
    const detail =
      `The receiver rejected message ${last.controlId} with ${last.ackCode ?? 'no code'} ` +
      `(${last.lastError ?? ''}); it is not sent again.`;
    return { ...base, state: 'rejected', detail };
  }
  return {
    ...base,
    state: 'delivered',
    detail: `Message ${last.controlId} was delivered at ${last.ackedAt ?? ''}.`,
  };
}

/** Reads the error stored with the oldest pending message or the last rejection, after a restart. */
function storedError(
  executor: StoreExecutor,
  head: ReturnType<typeof nextPendingHl7>,
): Hl7ErrorSummary | null {
  const row = head?.lastError ? head : lastAcknowledgedHl7(executor);
  if (!row?.lastError || row.status === 'delivered') return null;
  return {
    controlId: row.controlId,
    caseId: row.caseId,
    at: row.ackedAt ?? row.createdAt,
    ackCode: row.status === 'rejected' ? row.ackCode : null,
    message: row.lastError,
  };
}

/**
 * Maps the push status to the link states of the status page. The push opens one connection per
 * message, so the link state is that of the last attempt: delivered is connected, a failed
 * attempt waiting for its retry is disconnected and a rejection is an error. Before the first
 * message the link is idle.
 */
export function toHl7Summary(status: Hl7Status): Hl7Summary {
  return {
    state: SUMMARY_STATE[status.state],
    detail: status.detail,
    researchPushAllowed: status.researchPushAllowed,
  };
}

const SUMMARY_STATE: Record<Hl7State, Hl7Summary['state']> = {
  idle: 'idle',
  queued: 'connecting',
  sending: 'connecting',
  retrying: 'disconnected',
  delivered: 'connected',
  rejected: 'error',
};

/**
 * Delivery of one closed case's estimate to the anesthesia system:
 * - `withheld`: not sent because the bundle's intended use is not clinical and
 *   hl7.allowResearchPush is off.
 * - `not-queued`: not sent for another reason, e.g. no MRN was entered before the case was closed.
 * - `queued`, `sending`, `retrying`, `delivered`, `rejected`: the state of its outbox message.
 */
export type CaseHl7State =
  'withheld' | 'not-queued' | 'queued' | 'sending' | 'retrying' | 'delivered' | 'rejected';

export interface CaseHl7Delivery {
  state: CaseHl7State;
  /** Intended use of the bundle that computed the estimate, e.g. "reference". */
  intendedUse: string;
  /** MSA-1 of the acknowledgement (AA, AE, AR, ...); null before one arrived. */
  ackCode: string | null;
  /** Error of the last failed attempt or the receiver's rejection text, without the MRN. */
  error: string | null;
  /** ISO 8601 time of the acknowledgement; null before one arrived. */
  ackedAt: string | null;
}

/** Reads the HL7 delivery of the estimate `estimateId` from the outbox. */
export function readCaseHl7Delivery(
  executor: StoreExecutor,
  estimate: { estimateId: string; intendedUse: string },
  live: { sending: boolean; researchPushAllowed: boolean },
): CaseHl7Delivery {
  const { intendedUse } = estimate;
  const row = findHl7ByEstimate(executor, estimate.estimateId);
  if (!row) {
    const withheld = intendedUse !== 'clinical' && !live.researchPushAllowed;
    const state = withheld ? 'withheld' : 'not-queued';
    return { state, intendedUse, ackCode: null, error: null, ackedAt: null };
  }
  const outcome = { intendedUse, ackCode: row.ackCode, error: row.lastError, ackedAt: row.ackedAt };
  if (row.status !== 'pending') return { ...outcome, state: row.status };
  const inFlight = live.sending && nextPendingHl7(executor)?.seq === row.seq;
  if (inFlight) return { ...outcome, state: 'sending' };
  return { ...outcome, state: row.attempts > 0 ? 'retrying' : 'queued' };
}
