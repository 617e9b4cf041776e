import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { pino, type Logger } from 'pino';

import { workflowSettings } from '../../../src/commands/run.ts';
import { loadConfig, type Config, type ConfigInput } from '../../../src/config/index.ts';
import type { FrameSource } from '../../../src/core/frames.ts';
import { Daemon } from '../../../src/daemon.ts';
import { LogRing } from '../../../src/fleet/index.ts';
import { checkScanPopulation } from '../../../src/scan/scan.ts';
import type { ScanRecord } from '../../../src/scan/types.ts';
import { openDatabase, saveScan } from '../../../src/store/index.ts';
import { StubFrameSource } from '../../helpers/fleet.ts';
import { measuredView } from '../../helpers/view-result.ts';

/** Small deterministic generator (mulberry32), so a failing run can be replayed from its seed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Draws values of many JSON shapes from one generator: the raw material of the fuzz tests. */
export class Fuzzer {
  constructor(readonly next: () => number) {}

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Draws a string of printable, control, quote and non-ASCII characters, up to `maxLength` long. */
  text(maxLength = 24): string {
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\u0000', '|', '^', '&', 'é', '💉', '{'];
    return Array.from({ length: this.int(maxLength + 1) }, () => this.pick(alphabet)).join('');
  }

  /** Draws a random JSON value nested up to `depth` levels. */
  json(depth = 3): unknown {
    const kind = this.int(depth > 0 ? 9 : 7);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return this.next() < 0.5;
      case 2:
        return this.pick([0, -1, 1e308, -1e-308, 2 ** 53 + 1, 3.5, 172, 70]);
      case 3:
        return this.text();
      case 4:
        return this.pick(['', 'ivc', 'female', 'male', 'g/dL', 'AA', 'true', '1e9', 'NaN']);
      case 5:
        return this.int(1_000_000) - 500_000;
      case 6:
        return this.pick(['__proto__', 'constructor', 'toString']);
      case 7:
        return Array.from({ length: this.int(4) }, () => this.json(depth - 1));
      default: {
        const object: Record<string, unknown> = {};
        const keys = ['a', 'caseId', 'view', 'params', 'mrn', 'x', '__proto__', this.text(8)];
        for (let i = this.int(5); i > 0; i--) object[this.pick(keys)] = this.json(depth - 1);
        return object;
      }
    }
  }

  /** Draws random bytes, often not UTF-8. */
  bytes(maxLength = 256): Buffer {
    return Buffer.from(Array.from({ length: this.int(maxLength + 1) }, () => this.int(256)));
  }

  /** Copies `base` with one key replaced by a random value, removed, or an unknown key added. */
  mutate(base: Record<string, unknown>): Record<string, unknown> {
    const copy: Record<string, unknown> = { ...base };
    const keys = Object.keys(copy);
    const action = this.int(3);
    if (action === 0 && keys.length > 0) copy[this.pick(keys)] = this.json(2);
    else if (action === 1 && keys.length > 0) delete copy[this.pick(keys)];
    else copy[this.text(6) || 'extra'] = this.json(1);
    return copy;
  }
}

/**
 * Creates a logger that keeps every line in `lines`, to count what the daemon logged, and the last
 * thousand in `ring` for the fleet log-tail request.
 */
export function memoryLogger(level = 'info'): { logger: Logger; lines: string[]; ring: LogRing } {
  const lines: string[] = [];
  const ring = new LogRing(1000);
  const destination = {
    write: (line: string) => {
      lines.push(line);
      ring.write(line);
    },
  };
  return { logger: pino({ level }, destination), lines, ring };
}

/** Parses the log lines whose `msg` is `message`. */
export function logged(lines: readonly string[], message: string): Record<string, unknown>[] {
  return lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === message);
}

/** Builds a stored scan record of `caseId`, with one IVC view. */
export function sampleRecord(caseId: string): ScanRecord {
  const covariates = { heightCm: 175, weightKg: 70, sex: 'male' as const, ageYears: 52 };
  return {
    caseId,
    estimateId: randomUUID(),
    createdAt: new Date().toISOString(),
    covariates,
    views: [measuredView('ivc')],
    estimate: {
      bvMl: 4900,
      bvMlPerKg: 70,
      lowerMl: 4300,
      upperMl: 5500,
      nadlerMl: 4824,
      modelName: 'bv-reference',
      modelVersion: '0.1.0',
      intendedUse: 'research and engineering tests',
      notice: 'Reference model, not for clinical use.',
      executionProvider: 'cpu',
      population: checkScanPopulation(covariates),
    },
  };
}

/** Returns the database file of a daemon whose data folder is `dataDir`. */
export function databasePath(dataDir: string): string {
  return join(dataDir, 'bv-edge.sqlite');
}

/** Stores `count` finished scans in the data folder's database and returns their case ids. */
export function seedCases(dataDir: string, count: number, prefix = 'seed'): string[] {
  mkdirSync(dataDir, { recursive: true });
  const store = openDatabase(databasePath(dataDir), pino({ level: 'silent' }));
  try {
    const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
    for (const id of ids) saveScan(store, sampleRecord(id), []);
    return ids;
  } finally {
    store.close();
  }
}

/**
 * Asserts that the database passes `PRAGMA integrity_check` and still contains a case row, its views
 * and an estimate for every id in `caseIds`. Returns the number of cases stored.
 */
export function assertStoreIntact(dataDir: string, caseIds: readonly string[]): number {
  const db = new Database(databasePath(dataDir), { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const caseRow = db.prepare('select count(*) as n from cases where case_id = ?');
    const viewRow = db.prepare('select count(*) as n from views where case_id = ?');
    const estimateRow = db.prepare('select count(*) as n from estimates where case_id = ?');
    for (const id of caseIds) {
      assert.equal((caseRow.get(id) as { n: number }).n, 1, `case ${id} is missing`);
      assert.ok((viewRow.get(id) as { n: number }).n >= 1, `views of case ${id} are missing`);
      assert.ok((estimateRow.get(id) as { n: number }).n >= 1, `estimate of ${id} is missing`);
    }
    return (db.prepare('select count(*) as n from cases').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

export interface TestDaemon {
  daemon: Daemon;
  config: Config;
  /** Status page URL, e.g. "http://127.0.0.1:41234/". */
  url: string;
  source: FrameSource;
  /** Every log line of the daemon, as JSON text. */
  lines: string[];
  /** Stops the daemon; resolves with whether every service stopped cleanly. */
  stop(): Promise<boolean>;
}

/**
 * Starts the Daemon in this process on `dataDir` with the CPU provider, an HTTP server on a free
 * port of 127.0.0.1, and `source` (a stub that stays live when left out). `overrides` go through
 * loadConfig, e.g. the broker URL or an HL7 endpoint; the environment is ignored.
 */
export async function startTestDaemon(
  dataDir: string,
  overrides: ConfigInput,
  source: FrameSource = new StubFrameSource(),
): Promise<TestDaemon> {
  const config = loadConfig({ dataDir, providers: ['cpu'], ...overrides }, { env: {} });
  const { logger, lines, ring } = memoryLogger();
  const daemon = new Daemon({
    config,
    workflow: workflowSettings(config),
    http: { host: '127.0.0.1', port: 0 },
    frameSource: source,
    logger,
    logLines: ring,
  });
  await daemon.start();
  return { daemon, config, url: daemon.url!, source, lines, stop: () => daemon.stop() };
}
