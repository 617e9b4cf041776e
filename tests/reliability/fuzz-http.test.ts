/**
 * Fuzzed bodies to every POST and PUT route of the daemon's HTTP API (the workflow, the label
 * entry and the HL7 MRN): random JSON, mutated valid bodies, garbage bytes, huge bodies and wrong
 * content types. Each bad body gets a 4xx RFC 9457 problem response, none a 5xx, the daemon still
 * responds to /healthz, and the stored cases are intact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { freePort } from '../helpers/mosquitto.ts';
import {
  assertStoreIntact,
  Fuzzer,
  random,
  seedCases,
  startTestDaemon,
  type TestDaemon,
} from './helpers/harness.ts';

const BODIES_PER_ROUTE = Number(process.env.BV_EDGE_FUZZ_HTTP_BODIES ?? 60);
const SEED = 20260311;
/** A body well above any valid one; the API has to reject it without falling over. */
const HUGE_BYTES = 2 * 1024 * 1024;

let folder = '';
let daemon: TestDaemon;
let seeded: string[] = [];

before(async () => {
  folder = mkdtempSync(join(tmpdir(), 'bv-edge-fuzz-http-'));
  seeded = seedCases(folder, 3);
  // Nothing listens on the HL7 port: the push is enabled only so that its API is mounted.
  daemon = await startTestDaemon(folder, {
    mqtt: { url: `mqtt://127.0.0.1:${await freePort()}` },
    fleet: { enabled: false },
    hl7: { enabled: true, host: '127.0.0.1', port: await freePort() },
  });
});

after(async () => {
  await daemon?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

interface Route {
  method: 'POST' | 'PUT';
  path: string;
  /** A valid body, which the fuzzer mutates; null for routes that read no body. */
  valid: Record<string, unknown> | null;
}

const ROUTES: Route[] = [
  {
    method: 'POST',
    path: 'api/workflow/case',
    valid: { caseId: 'fuzz-open', heightCm: 172, weightKg: 70, sex: 'male' },
  },
  { method: 'POST', path: 'api/workflow/recording', valid: { view: 'ivc', durationS: 3.5 } },
  { method: 'POST', path: 'api/workflow/recording/stop', valid: null },
  { method: 'POST', path: 'api/workflow/accept', valid: null },
  { method: 'POST', path: 'api/workflow/retake', valid: null },
  { method: 'POST', path: 'api/workflow/close', valid: null },
  {
    method: 'POST',
    path: 'api/cases/seed-1/labels',
    valid: {
      enteredBy: 'coordinator',
      hbUnit: 'g/dL',
      hbBefore: 13,
      hbAfter: 11,
      withdrawnMl: 900,
    },
  },
  {
    method: 'POST',
    path: 'api/cases/no-such-case/labels',
    valid: {
      enteredBy: 'coordinator',
      hbUnit: 'g/dL',
      hbBefore: 13,
      hbAfter: 11,
      withdrawnMl: 900,
    },
  },
  { method: 'PUT', path: 'api/hl7/cases/fuzz-open/mrn', valid: { mrn: 'MRN-1' } },
  { method: 'PUT', path: 'api/hl7/cases/..%2F..%2Fetc/mrn', valid: { mrn: 'MRN-1' } },
];

interface Body {
  kind: string;
  contentType: string | null;
  data: Buffer;
}

const JSON_TYPE = 'application/json';

/** Draws one bad body for `route`. */
function badBody(fuzz: Fuzzer, route: Route): Body {
  const valid = route.valid ?? {};
  switch (fuzz.int(8)) {
    case 0:
      return { kind: 'random JSON', contentType: JSON_TYPE, data: json(fuzz.json()) };
    case 1:
      return { kind: 'mutated', contentType: JSON_TYPE, data: json(fuzz.mutate(valid)) };
    case 2:
      return { kind: 'garbage', contentType: JSON_TYPE, data: fuzz.bytes(512) };
    case 3:
      return {
        kind: 'truncated',
        contentType: JSON_TYPE,
        data: json(valid).subarray(0, 1 + fuzz.int(Math.max(1, json(valid).length - 1))),
      };
    case 4: {
      const type = fuzz.pick([
        null,
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'applicat1on/json',
      ]);
      return { kind: 'wrong content type', contentType: type, data: json(valid) };
    }
    case 5:
      return {
        kind: 'huge',
        contentType: JSON_TYPE,
        data: json({ ...valid, pad: 'x'.repeat(HUGE_BYTES) }),
      };
    case 6:
      return { kind: 'empty', contentType: JSON_TYPE, data: Buffer.alloc(0) };
    default:
      return {
        kind: 'deep nesting',
        contentType: JSON_TYPE,
        data: Buffer.from('['.repeat(5000) + ']'.repeat(5000)),
      };
  }
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value) ?? 'null');
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
}

test('fuzzed bodies get problems', { timeout: 180_000 }, async () => {
  // With a case open, the recording and MRN routes check their bodies past the step check.
  const opened = await fetch(new URL('api/workflow/case', daemon.url), {
    method: 'POST',
    headers: { 'content-type': JSON_TYPE },
    body: JSON.stringify(ROUTES[0]!.valid),
  });
  assert.equal(opened.status, 201, await opened.text());
  const fuzz = new Fuzzer(random(SEED));
  const statuses = new Map<number, number>();
  const accepted: string[] = [];
  let sent = 0;
  for (let round = 0; round < BODIES_PER_ROUTE; round++) {
    for (const route of ROUTES) {
      const body = badBody(fuzz, route);
      const headers: Record<string, string> = {};
      if (body.contentType) headers['content-type'] = body.contentType;
      const response = await fetch(new URL(route.path, daemon.url), {
        method: route.method,
        headers,
        body: new Uint8Array(body.data),
      });
      sent++;
      const where = `${route.method} /${route.path} with a ${body.kind} body`;
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const text = await response.text();
      assert.ok(response.status < 500, `${where}: HTTP ${response.status} ${text}`);
      if (response.status < 300) {
        // A route that reads no body, or a mutation that happened to stay valid.
        accepted.push(`${route.path} (${body.kind})`);
        continue;
      }
      assert.equal(response.headers.get('content-type'), 'application/problem+json', where);
      const problem = JSON.parse(text) as Problem;
      assert.equal(problem.status, response.status, `${where}: status member`);
      assert.match(problem.type, /^urn:bv-edge:problem:[a-z_]+$/, `${where}: type member`);
      assert.ok(problem.detail.length > 10, `${where}: detail "${problem.detail}"`);
      assert.equal(typeof problem.code, 'string', `${where}: code member`);
    }
    const health = await fetch(new URL('healthz', daemon.url));
    assert.equal(health.status, 200, `round ${round}: /healthz failed`);
    assert.equal(await health.text(), 'ok');
  }
  const stored = assertStoreIntact(daemon.config.dataDir, seeded);
  const byStatus = [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status} ${n}`)
    .join(', ');
  console.log(
    `fuzz http: ${sent} bodies to ${ROUTES.length} routes (${byStatus}); ` +
      `${accepted.length} accepted, ${stored} cases stored after`,
  );
  // Only body-less routes and mutations that stayed valid may succeed.
  assert.ok(accepted.length < sent / 4, `${accepted.length} accepted: ${accepted.join(', ')}`);
});
