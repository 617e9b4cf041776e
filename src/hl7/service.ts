import { randomBytes } from 'node:crypto';

import type { Hl7Config } from '../config/hl7-schema.ts';
import type { Logger } from '../core/log.ts';
import type { ScanRecord } from '../scan/types.ts';
import { eraseWal, type Store } from '../store/db.ts';
import { parseAck, InvalidAckError, type Acknowledgement } from './ack.ts';
import { endpointFromConfig } from './endpoint.ts';
import { buildObservationMessage, withMrn } from './message.ts';
import { MllpError, sendMllp, type MllpEndpoint } from './mllp.ts';
import {
  deleteMrn,
  expiredMrnCases,
  getMrn,
  nextMrnDeletion,
  putMrn,
  setMrnDeleteAfter,
  type MrnDeleteReason,
} from './mrn-store.ts';
import {
  enqueueHl7,
  findHl7ByEstimate,
  nextPendingHl7,
  recordHl7Ack,
  recordHl7Failure,
  type Hl7OutboxRow,
} from './outbox.ts';
import {
  readCaseHl7Delivery,
  readHl7Status,
  type CaseHl7Delivery,
  type Hl7ErrorSummary,
  type Hl7Status,
} from './status.ts';

export interface Hl7ServiceOptions {
  store: Store;
  config: Hl7Config;
  /** Device name of the cart, sent as the equipment instance of each observation. */
  deviceName: string;
  logger: Logger;
  /** Clock; tests may pass their own. */
  now?: () => Date;
}

/** Outcome of offering a closed case for the push. */
export type PushDecision =
  | { queued: true; controlId: string }
  | { queued: false; reason: 'already-queued' | 'not-cleared' | 'no-mrn' };

/**
 * An MRN whose case is never closed (a typo in the case id, a case left open) is deleted this
 * long after it was entered, hours.
 */
export const UNPUSHED_MRN_RETENTION_HOURS = 24;

/** Maximum wait of one timer, ms; a later deadline is checked again after it. */
const MAX_TIMER_MS = 60 * 60 * 1000;

/**
 * Pushes the estimate of each closed case to the anesthesia information system as an HL7
 * ORU^R01 message over MLLP, from an SQLite outbox. Messages go one at a time and in order. A
 * timeout, a refused or lost connection or an invalid reply is retried with capped exponential
 * backoff, and a message that got AE or AR is never sent again. The MRN of a case is kept only
 * until `mrnRetentionMinutes` after the acknowledgement.
 */
export class Hl7Service {
  private readonly options: Hl7ServiceOptions;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private endpoint: MllpEndpoint | null = null;
  private started = false;
  private stopped = false;
  private pumping: Promise<void> | null = null;
  private pumpRequested = false;
  private sending = false;
  private lastError: Hl7ErrorSummary | null = null;
  private readonly abort = new AbortController();
  private retryTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(options: Hl7ServiceOptions) {
    this.options = options;
    this.logger = options.logger;
    this.now = options.now ?? (() => new Date());
  }

  /** Reads the TLS files, deletes expired MRNs and starts sending what the outbox contains. */
  async start(): Promise<void> {
    if (this.started) throw new Error('Hl7Service.start() was called twice');
    this.started = true;
    this.endpoint = endpointFromConfig(this.options.config);
    this.sweepMrns();
    const { host, port, tls } = this.endpoint;
    this.logger.info({ host, port, tls: tls !== null }, 'HL7 push started');
    this.kick();
  }

  /** Stops sending; a message in flight stays pending and is sent again on the next start. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    await this.pumping;
    this.logger.info('HL7 push stopped');
  }

  /**
   * Stores the MRN entered for an open case. It is deleted UNPUSHED_MRN_RETENTION_HOURS later
   * unless the case is closed and pushed before.
   */
  setMrn(caseId: string, mrn: string): { deleteAfter: string } {
    const now = this.now();
    const deleteAfter = new Date(now.getTime() + UNPUSHED_MRN_RETENTION_HOURS * 3_600_000);
    putMrn(this.options.store.db, caseId, mrn, now, deleteAfter);
    this.logger.info({ caseId }, 'MRN stored for the HL7 push');
    this.scheduleSweep();
    return { deleteAfter: deleteAfter.toISOString() };
  }

  /**
   * Queues the estimate of a closed case. It is not queued when its bundle is not clinically
   * cleared and research pushes are off, or when no MRN was entered, and the reason is logged.
   */
  pushClosedCase(record: ScanRecord): PushDecision {
    const { store, config } = this.options;
    const ids = { caseId: record.caseId, estimateId: record.estimateId };
    if (findHl7ByEstimate(store.db, record.estimateId))
      return { queued: false, reason: 'already-queued' };
    const { intendedUse } = record.estimate;
    const cleared = intendedUse === 'clinical';
    if (!cleared && !config.allowResearchPush) {
      this.logger.info(
        { ...ids, intendedUse },
        `estimate not pushed to the AIS: the model bundle's intended use is "${intendedUse}", ` +
          'not clinical; set hl7.allowResearchPush to push research estimates',
      );
      this.forgetMrn(record.caseId, 'not-pushed');
      return { queued: false, reason: 'not-cleared' };
    }
    if (getMrn(store.db, record.caseId) === null) {
      this.logger.warn(ids, 'estimate not pushed to the AIS: no MRN was entered for the case');
      return { queued: false, reason: 'no-mrn' };
    }
    const controlId = newControlId();
    const message = buildObservationMessage({
      record,
      controlId,
      createdAt: this.now(),
      deviceName: this.options.deviceName,
      researchUse: !cleared,
      settings: config,
    });
    store.db.transaction((tx) => {
      enqueueHl7(tx, { ...ids, controlId, message: message.toString(), createdAt: this.now() });
      setMrnDeleteAfter(tx, record.caseId, null);
    });
    this.logger.info({ ...ids, controlId, researchUse: !cleared }, 'estimate queued for the AIS');
    this.kick();
    return { queued: true, controlId };
  }

  /** Deletes the MRN of a case that was abandoned. */
  forgetCase(caseId: string): void {
    this.forgetMrn(caseId, 'case-abandoned');
  }

  status(): Hl7Status {
    return readHl7Status(this.options.store.db, {
      sending: this.sending,
      lastError: this.lastError,
      researchPushAllowed: this.options.config.allowResearchPush,
    });
  }

  /** Returns the delivery of one closed case's estimate, for the page. */
  caseDelivery(record: ScanRecord): CaseHl7Delivery {
    const estimate = { estimateId: record.estimateId, intendedUse: record.estimate.intendedUse };
    return readCaseHl7Delivery(this.options.store.db, estimate, {
      sending: this.sending,
      researchPushAllowed: this.options.config.allowResearchPush,
    });
  }

  /** Runs the send loop, or makes the running one read the outbox again when it is done. */
  private kick(): void {
    if (this.stopped || !this.started) return;
    if (this.pumping) {
      this.pumpRequested = true;
      return;
    }
    this.pumping = this.pump()
      .catch((error: unknown) => this.logger.error({ err: error }, 'HL7 send loop failed'))
      .finally(() => {
        this.pumping = null;
        if (this.pumpRequested) {
          this.pumpRequested = false;
          this.kick();
        }
      });
  }

  private async pump(): Promise<void> {
    while (!this.stopped) {
      this.pumpRequested = false;
      const row = nextPendingHl7(this.options.store.db);
      if (!row) return;
      const waitMs = Date.parse(row.nextAttemptAt) - this.now().getTime();
      if (waitMs > 0) {
        this.scheduleRetry(waitMs);
        return;
      }
      await this.attempt(row);
    }
  }

  private async attempt(row: Hl7OutboxRow): Promise<void> {
    const ids = { caseId: row.caseId, controlId: row.controlId };
    const mrn = getMrn(this.options.store.db, row.caseId);
    if (mrn === null) {
      // The MRN is kept while the message is pending, so only a manual database edit gets here.
      this.reject(row, { code: '', accepted: false, text: 'MRN missing, message not sent' }, null);
      return;
    }
    const text = withMrn(row.message, mrn, this.options.config.mrnAssigningAuthority);
    this.sending = true;
    let reply: string;
    try {
      reply = await sendMllp(this.endpoint!, text, this.abort.signal);
    } catch (error) {
      if (error instanceof MllpError && error.kind === 'stopped') return;
      this.fail(row, error instanceof Error ? error.message : String(error), mrn);
      return;
    } finally {
      this.sending = false;
    }
    let ack: Acknowledgement;
    try {
      ack = parseAck(reply, row.controlId);
    } catch (error) {
      if (!(error instanceof InvalidAckError)) throw error;
      this.fail(row, `invalid acknowledgement: ${error.message}`, mrn);
      return;
    }
    if (!ack.accepted) {
      this.reject(row, ack, mrn);
      return;
    }
    this.settle(row, { status: 'delivered', ackCode: ack.code, error: null });
    this.logger.info({ ...ids, attempts: row.attempts + 1 }, 'HL7 message delivered');
  }

  /**
   * Stores an AE or AR, and the message is not sent again. The stored error is the receiver's
   * own text (MSA-3 and ERR) without the ack code, which has its own column, so that the page
   * can quote it.
   */
  private reject(row: Hl7OutboxRow, ack: Acknowledgement, mrn: string | null): void {
    // An empty text stays empty, so the page can show that the receiver gave no reason.
    const error = redact(ack.text, mrn);
    this.settle(row, { status: 'rejected', ackCode: ack.code, error });
    this.lastError = summary(row, error, ack.code || null, this.now());
    this.logger.error(
      { caseId: row.caseId, controlId: row.controlId, ackCode: ack.code, error },
      `AIS rejected the HL7 message with ${ack.code}; it is not sent again`,
    );
  }

  private settle(
    row: Hl7OutboxRow,
    outcome: { status: 'delivered' | 'rejected'; ackCode: string; error: string | null },
  ): void {
    const now = this.now();
    const retentionMs = this.options.config.mrnRetentionMinutes * 60_000;
    const db = this.options.store.db;
    db.transaction((tx) => {
      recordHl7Ack(tx, row.seq, { ...outcome, at: now });
      setMrnDeleteAfter(tx, row.caseId, new Date(now.getTime() + retentionMs));
    });
    this.sweepMrns();
  }

  private fail(row: Hl7OutboxRow, message: string, mrn: string): void {
    const error = redact(message, mrn);
    const { initialDelayMs, maxDelayMs } = this.options.config.retry;
    // 2^30 already exceeds any configured cap, so the exponent stops growing there.
    const delayMs = Math.min(initialDelayMs * 2 ** Math.min(row.attempts, 30), maxDelayMs);
    const now = this.now();
    recordHl7Failure(this.options.store.db, row.seq, error, new Date(now.getTime() + delayMs));
    this.lastError = summary(row, error, null, now);
    this.logger.warn(
      {
        caseId: row.caseId,
        controlId: row.controlId,
        attempt: row.attempts + 1,
        retryInMs: delayMs,
        error,
      },
      'HL7 send failed; retrying',
    );
  }

  private scheduleRetry(waitMs: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        this.kick();
      },
      Math.min(waitMs, MAX_TIMER_MS),
    );
  }

  private forgetMrn(caseId: string, reason: MrnDeleteReason): void {
    if (deleteMrn(this.options.store.db, caseId, reason, this.now())) {
      // The write-ahead log still has the page with the MRN until it is truncated.
      const erased = eraseWal(this.options.store);
      this.logger.info({ caseId, reason, walErased: erased }, 'MRN deleted');
    }
  }

  /** Deletes every MRN whose time has come and schedules the next deletion. */
  private sweepMrns(): void {
    for (const caseId of expiredMrnCases(this.options.store.db, this.now())) {
      this.forgetMrn(caseId, 'retention-elapsed');
    }
    this.scheduleSweep();
  }

  private scheduleSweep(): void {
    if (this.stopped || !this.started) return;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    const next = nextMrnDeletion(this.options.store.db);
    if (!next) return;
    const waitMs = Math.max(0, next.getTime() - this.now().getTime());
    this.sweepTimer = setTimeout(() => this.sweepMrns(), Math.min(waitMs, MAX_TIMER_MS));
  }
}

/**
 * MSH-10: 20 upper-case hex digits (80 random bits), because some receivers still enforce the
 * 20-character length of MSH-10 in HL7 v2.5.
 */
function newControlId(): string {
  return randomBytes(10).toString('hex').toUpperCase();
}

/** Removes the MRN from a receiver's error text, which may quote the PID segment. */
function redact(text: string, mrn: string | null): string {
  return mrn ? text.split(mrn).join('[MRN]') : text;
}

function summary(
  row: Hl7OutboxRow,
  message: string,
  ackCode: string | null,
  at: Date,
): Hl7ErrorSummary {
  return { controlId: row.controlId, caseId: row.caseId, at: at.toISOString(), ackCode, message };
}
