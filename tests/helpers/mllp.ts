import {
  createServer as createTcpServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

import { Hl7Message, Hl7Segment } from '@medplum/core';

import { escapeHl7 } from '../../src/hl7/escape.ts';
import { frameMllp, MllpDecoder } from '../../src/hl7/mllp.ts';

/**
 * How the listener replies to each message: an ACK with MSA-1 AA, AE or AR (AE and AR carry an
 * ERR segment with `errorText`), bytes outside any MLLP frame, a framed reply that is not HL7, or
 * nothing at all.
 */
export type ListenerReply =
  | { kind: 'ack'; code: 'AA' | 'AE' | 'AR'; errorText?: string }
  | { kind: 'garbage' }
  | { kind: 'framed-garbage' }
  | { kind: 'silent' };

export interface MllpListener {
  port: number;
  /** Every message received, in order. */
  readonly received: string[];
  /** The reply to the next messages; tests may change it. */
  reply: ListenerReply;
  /** Closes the server and every open connection. */
  stop(): Promise<void>;
}

export interface MllpListenerOptions {
  /** Port on 127.0.0.1; a free one when left out. */
  port?: number;
  reply?: ListenerReply;
  /** PEM key and certificate: the listener then speaks MLLP over TLS. */
  tls?: { key: Buffer; cert: Buffer };
}

/** Starts an MLLP receiver on 127.0.0.1 that records each message and replies as configured. */
export async function startMllpListener(options: MllpListenerOptions = {}): Promise<MllpListener> {
  const sockets = new Set<Socket>();
  const listener = {
    port: 0,
    received: [] as string[],
    reply: options.reply ?? ({ kind: 'ack', code: 'AA' } as ListenerReply),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const onConnection = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const decoder = new MllpDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        listener.received.push(frame);
        answer(socket, frame, listener.reply);
      }
    });
  };
  const server: Server = options.tls
    ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, onConnection)
    : createTcpServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  listener.port = (server.address() as AddressInfo).port;
  return listener;
}

function answer(socket: Socket, frame: string, reply: ListenerReply): void {
  switch (reply.kind) {
    case 'silent':
      return;
    case 'garbage':
      socket.write('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    case 'framed-garbage':
      socket.write(frameMllp('this is not an HL7 message'));
      return;
    case 'ack':
      socket.write(frameMllp(buildAck(frame, reply.code, reply.errorText).toString()));
  }
}

/** Builds the ACK of `frame` with @medplum/core, adding an ERR segment for AE and AR. */
function buildAck(frame: string, code: 'AA' | 'AE' | 'AR', errorText?: string): Hl7Message {
  const message = Hl7Message.parse(frame);
  if (code === 'AA') return message.buildAck({ ackCode: code });
  const context = message.context;
  const text = escapeHl7(errorText ?? 'rejected', context);
  // ERR-3 error code (HL7 table 0357: 207 application internal error), ERR-4 severity E,
  // ERR-8 user message.
  const err = Hl7Segment.parse(
    `ERR|||207^Application internal error^HL70357|E||||${text}`,
    context,
  );
  return message.buildAck({ ackCode: code, errSegment: err });
}
