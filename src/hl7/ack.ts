import { Hl7Message, type Hl7Segment } from '@medplum/core';

import { unescapeHl7 } from './escape.ts';

/** Acknowledgement codes of MSA-1 (HL7 table 0008): original mode A*, enhanced mode C*. */
const ACCEPT_CODES = new Set(['AA', 'CA']);
const REJECT_CODES = new Set(['AE', 'AR', 'CE', 'CR']);

export interface Acknowledgement {
  /** MSA-1. */
  code: string;
  accepted: boolean;
  /** MSA-3 and the ERR segments as one line; empty when the receiver sent no text. */
  text: string;
}

/** A reply that is not an acknowledgement of the message sent. */
export class InvalidAckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAckError';
  }
}

/**
 * Parses the reply to the message with control id `controlId`. Throws InvalidAckError when the
 * reply is not an HL7 message, has no MSA segment or an unknown MSA-1 code, or acknowledges
 * another message (MSA-2).
 */
export function parseAck(reply: string, controlId: string): Acknowledgement {
  let message: Hl7Message;
  try {
    message = Hl7Message.parse(reply);
  } catch {
    throw new InvalidAckError(`reply is not an HL7 message: ${preview(reply)}`);
  }
  const msa = message.getSegment('MSA');
  if (!msa) throw new InvalidAckError(`reply has no MSA segment: ${preview(reply)}`);
  const context = message.context;
  const code = msa.getField(1).toString();
  if (!ACCEPT_CODES.has(code) && !REJECT_CODES.has(code)) {
    throw new InvalidAckError(`reply has the unknown acknowledgement code MSA-1 "${code}"`);
  }
  const acknowledged = unescapeHl7(msa.getComponent(2, 1), context);
  if (acknowledged !== controlId) {
    throw new InvalidAckError(
      `reply acknowledges message ${JSON.stringify(acknowledged)}, not ${controlId}`,
    );
  }
  const parts = [
    unescapeHl7(msa.getComponent(3, 1), context),
    ...message.getAllSegments('ERR').map((err) => describeErr(err)),
  ];
  return {
    code,
    accepted: ACCEPT_CODES.has(code),
    text: parts.filter((part) => part.length > 0).join('; '),
  };
}

/** ERR-3 (code and text), ERR-7 (diagnostics) and ERR-8 (user message) of one ERR segment. */
function describeErr(err: Hl7Segment): string {
  const context = err.context;
  const read = (field: number, component: number): string =>
    unescapeHl7(err.getComponent(field, component), context);
  const code = [read(3, 1), read(3, 2)].filter(Boolean).join(' ');
  return [code, read(7, 1), read(8, 1)].filter(Boolean).join(': ');
}

function preview(text: string): string {
  const printable = text.replace(/[\r\n]+/g, ' ').slice(0, 60);
  return JSON.stringify(printable);
}
