/**
 * The HL7 push against a test MLLP receiver that replies to each message with a random or damaged
 * reply: valid AA, AE, AR and enhanced-mode acknowledgements, unknown codes, acknowledgements of
 * another message, replies without MSA, unframed or oversized bytes, byte-flipped ACKs, silence
 * and dropped connections. Each message ends delivered (AA, CA) or rejected (AE, AR, CE, CR), and
 * every other reply is retried. The service keeps running, and every queued message and stored
 * case is still in the database.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';

import { Hl7Message, Hl7Segment } from '@medplum/core';

import { Hl7Schema } from '../../src/config/hl7-schema.ts';
import { Hl7Service } from '../../src/hl7/index.ts';
import { frameMllp, MLLP_MAX_FRAME_BYTES, MllpDecoder } from '../../src/hl7/mllp.ts';
import { openDatabase, saveScan, type Store } from '../../src/store/index.ts';
import {
  assertStoreIntact,
  databasePath,
  Fuzzer,
  logged,
  memoryLogger,
  random,
  sampleRecord,
} from './helpers/harness.ts';

const MESSAGES = Number(process.env.BV_EDGE_FUZZ_HL7_MESSAGES ?? 40);
const SEED = 20260313;

/** How the receiver replies to one message, and what the service must make of it. */
interface ReplyKind {
  name: string;
  /** The final status the reply leads to; 'retry' for replies that are not a valid ACK. */
  expect: 'delivered' | 'rejected' | 'retry' | 'either';
  reply(socket: Socket, frame: string, fuzz: Fuzzer): void;
}

type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

function ack(frame: string, code: AckCode, errorText?: string): string {
  const message = Hl7Message.parse(frame);
  if (!errorText) return message.buildAck({ ackCode: code }).toString();
  const err = Hl7Segment.parse(`ERR|||207^Application internal error^HL70357|E||||${errorText}`);
  return message.buildAck({ ackCode: code, errSegment: err }).toString();
}

function send(socket: Socket, text: string | Buffer): void {
  socket.write(typeof text === 'string' ? frameMllp(text) : text);
}

const REPLIES: ReplyKind[] = [
  { name: 'AA', expect: 'delivered', reply: (s, f) => send(s, ack(f, 'AA')) },
  { name: 'CA', expect: 'delivered', reply: (s, f) => send(s, ack(f, 'CA')) },
  { name: 'AE', expect: 'rejected', reply: (s, f) => send(s, ack(f, 'AE', 'PID-3 missing')) },
  { name: 'AR', expect: 'rejected', reply: (s, f) => send(s, ack(f, 'AR', 'unknown patient')) },
  { name: 'CR', expect: 'rejected', reply: (s, f) => send(s, ack(f, 'CR')) },
  {
    name: 'AA in two chunks',
    expect: 'delivered',
    reply: (s, f) => {
      const bytes = frameMllp(ack(f, 'AA'));
      s.write(bytes.subarray(0, 7));
      setTimeout(() => s.write(bytes.subarray(7)), 20);
    },
  },
  {
    name: 'unknown code',
    expect: 'retry',
    // @medplum/core builds only table 0008 codes, so the code is swapped in afterwards.
    reply: (s, f, fuzz) => {
      const code = fuzz.pick(['ZZ', 'aa', 'A', 'AAA', '']);
      send(s, ack(f, 'AA').replace(/^MSA\|AA\|/m, `MSA|${code}|`));
    },
  },
  {
    name: 'other control id',
    expect: 'retry',
    reply: (s, f) => send(s, ack(f, 'AA').replace(/^(MSA\|AA\|)[^|\r]*/m, '$1OTHER-ID')),
  },
  {
    name: 'no MSA',
    expect: 'retry',
    reply: (s, f) =>
      send(
        s,
        ack(f, 'AA')
          .split('\r')
          .filter((line) => !line.startsWith('MSA'))
          .join('\r'),
      ),
  },
  { name: 'framed text', expect: 'retry', reply: (s) => send(s, 'not an HL7 message') },
  { name: 'empty frame', expect: 'retry', reply: (s) => send(s, '') },
  {
    name: 'unframed bytes',
    expect: 'retry',
    reply: (s, _f, fuzz) =>
      s.write(Buffer.concat([Buffer.from('HTTP/1.1 400\r\n'), fuzz.bytes(64)])),
  },
  {
    name: 'end block without CR',
    expect: 'retry',
    reply: (s, f) =>
      s.write(Buffer.concat([frameMllp(ack(f, 'AA')).subarray(0, -1), Buffer.from('X')])),
  },
  {
    name: 'oversized frame',
    expect: 'retry',
    reply: (s) =>
      s.write(Buffer.concat([Buffer.from([0x0b]), Buffer.alloc(MLLP_MAX_FRAME_BYTES + 10, 0x41)])),
  },
  { name: 'silence', expect: 'retry', reply: () => undefined },
  { name: 'close', expect: 'retry', reply: (s) => s.end() },
  { name: 'reset', expect: 'retry', reply: (s) => s.resetAndDestroy() },
  {
    name: 'truncated ACK then close',
    expect: 'retry',
    reply: (s, f) => {
      s.write(frameMllp(ack(f, 'AA')).subarray(0, 20));
      s.end();
    },
  },
  {
    name: 'bytes flipped',
    expect: 'either',
    reply: (s, f, fuzz) => {
      const bytes = Buffer.from(ack(f, fuzz.pick<AckCode>(['AA', 'AE'])));
      for (let i = 0; i < 3; i++) {
        const at = fuzz.int(bytes.length);
        bytes[at] = bytes[at]! ^ (1 << fuzz.int(8));
      }
      send(s, bytes.toString('latin1'));
    },
  },
];

interface Attempt {
  controlId: string;
  kind: ReplyKind;
}

let folder = '';
let server: Server;
const sockets = new Set<Socket>();
const attempts: Attempt[] = [];
/** Errors of the test receiver itself, which would make its replies silent by accident. */
const receiverErrors: string[] = [];

before(async () => {
  folder = mkdtempSync(join(tmpdir(), 'bv-edge-fuzz-hl7-'));
  const fuzz = new Fuzzer(random(SEED));
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const decoder = new MllpDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        const controlId = Hl7Message.parse(frame).getSegment('MSH')!.getField(10).toString();
        const kind = fuzz.pick(REPLIES);
        attempts.push({ controlId, kind });
        try {
          kind.reply(socket, frame, fuzz);
        } catch (error) {
          receiverErrors.push(`${kind.name}: ${String(error)}`);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server?.close(resolve));
  if (folder) rmSync(folder, { recursive: true, force: true });
});

interface OutboxRow {
  control_id: string;
  case_id: string;
  status: string;
  ack_code: string | null;
  attempts: number;
}

test('fuzzed ACKs are classified', { timeout: 180_000 }, async () => {
  const { logger, lines } = memoryLogger('debug');
  const store: Store = openDatabase(databasePath(folder), logger);
  const config = Hl7Schema.parse({
    enabled: true,
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    connectTimeoutMs: 500,
    ackTimeoutMs: 200,
    retry: { initialDelayMs: 10, maxDelayMs: 40 },
    pointOfCare: 'OR-1',
    mrnAssigningAuthority: 'HOSP',
  });
  const service = new Hl7Service({ store, config, deviceName: 'cart-h', logger });
  await service.start();
  const caseIds: string[] = [];
  try {
    for (let i = 0; i < MESSAGES; i++) {
      const record = sampleRecord(`hl7-fuzz-${i}`);
      record.estimate.intendedUse = 'clinical';
      saveScan(store, record, []);
      service.setMrn(record.caseId, `MRN-${1000 + i}`);
      assert.equal(service.pushClosedCase(record).queued, true, `${record.caseId} not queued`);
      caseIds.push(record.caseId);
    }
    const pending = store.sqlite.prepare(
      "select count(*) as n from hl7_outbox where status = 'pending'",
    );
    const deadline = Date.now() + 120_000;
    while ((pending.get() as { n: number }).n > 0 && Date.now() < deadline) await delay(100);
    assert.equal((pending.get() as { n: number }).n, 0, 'messages still pending after 120 s');
    assert.equal(typeof service.status().state, 'string', 'status unreadable after the fuzz');
  } finally {
    await service.stop();
    store.close();
  }

  const rows = new Map<string, OutboxRow>();
  const db = openDatabase(databasePath(folder), memoryLogger('silent').logger);
  try {
    const all = db.sqlite.prepare('select * from hl7_outbox order by seq').all() as OutboxRow[];
    assert.equal(all.length, MESSAGES, 'a queued HL7 message is missing from the outbox');
    for (const row of all) rows.set(row.control_id, row);
  } finally {
    db.close();
  }

  assert.deepEqual(receiverErrors, [], 'the test receiver failed to build replies');
  const byKind = new Map<string, number>();
  const final = { delivered: 0, rejected: 0 };
  for (const [controlId, row] of rows) {
    const tries = attempts.filter((attempt) => attempt.controlId === controlId);
    for (const { kind } of tries) byKind.set(kind.name, (byKind.get(kind.name) ?? 0) + 1);
    assert.ok(tries.length >= 1, `${row.case_id}: never received`);
    assert.equal(row.attempts, tries.length, `${row.case_id}: attempts stored vs received`);
    const last = tries[tries.length - 1]!.kind;
    for (const earlier of tries.slice(0, -1)) {
      assert.ok(
        earlier.kind.expect === 'retry' || earlier.kind.expect === 'either',
        `${row.case_id}: sent again after a ${earlier.kind.name} reply`,
      );
    }
    assert.ok(
      row.status === 'delivered' || row.status === 'rejected',
      `${row.case_id}: ${row.status}`,
    );
    final[row.status as 'delivered' | 'rejected']++;
    if (last.expect === 'delivered' || last.expect === 'rejected') {
      assert.equal(row.status, last.expect, `${row.case_id}: last reply ${last.name}`);
      assert.equal(row.ack_code, last.name.slice(0, 2), `${row.case_id}: stored MSA-1`);
    } else {
      assert.equal(last.expect, 'either', `${row.case_id}: settled by a ${last.name} reply`);
      assert.ok(
        row.ack_code && /^[AC][AER]$/.test(row.ack_code),
        `${row.case_id}: ${row.ack_code}`,
      );
    }
  }
  assert.equal(logged(lines, 'HL7 send loop failed').length, 0, 'the send loop failed');
  for (const line of lines) {
    assert.ok(!/MRN-1\d{3}/.test(line), `an MRN was logged: ${line.slice(0, 200)}`);
  }
  const retried = logged(lines, 'HL7 send failed; retrying').length;
  const stored = assertStoreIntact(folder, caseIds);
  const kinds = [...byKind].map(([name, n]) => `${name} ${n}`).join(', ');
  console.log(
    `fuzz hl7 ack: ${MESSAGES} messages, ${attempts.length} replies (${kinds}); ` +
      `${final.delivered} delivered, ${final.rejected} rejected, ${retried} retries; ` +
      `${stored} cases stored after`,
  );
});
