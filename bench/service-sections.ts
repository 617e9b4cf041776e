/** The outbox, SQLite, start-up and memory sections of BENCHMARKS.md. */
import { join } from 'node:path';
import { silentLogger } from '../src/core/log.ts';
import type { ScanRecord } from '../src/scan/types.ts';
import { openDatabase, saveScan } from '../src/store/index.ts';
import { startMosquitto } from '../tests/helpers/mosquitto.ts';
import {
  PHANTOM_CLIP_SECONDS,
  sampleLoopedMemory,
  startDaemon,
  timeCli,
  writeDaemonConfig,
  type RunningDaemon,
} from './daemon.ts';
import { BENCH_TOPIC, benchPayload, drainAll, enqueueAll, rate, rawPublishLoop } from './outbox.ts';
import { seconds, type Plan } from './plan.ts';
import type { Report } from './report.ts';
import { formatMs, formatRatio, median } from './stats.ts';

// --- Outbox and SQLite ------------------------------------------------------------------------

export async function outboxSection(
  report: Report,
  plan: Plan,
  scratch: string,
  record: ScanRecord | null,
): Promise<void> {
  const broker = await startMosquitto();
  try {
    report.paragraph(
      'Messages of about 1.5 kB of JSON to mosquitto on 127.0.0.1 (a fresh database for each ' +
        `row), median of ${plan.drainRepeats} run(s) of each path. Drain: OutboxPublisher ` +
        'with its default in-flight window and with window 1. ' +
        'Baseline: a raw mqtt.js loop that awaits each QoS 1 publishAsync, the same count to ' +
        'the same broker. Ratio = drain rate / raw rate.',
    );
    await warmUpOutbox(broker.url, scratch);
    const rows: (string | number)[][] = [];
    const drainMs: number[] = [];
    for (const count of plan.drainCounts) {
      const store = openDatabase(join(scratch, `outbox-${count}.sqlite`), silentLogger());
      const defaultTimes: number[] = [];
      const window1Times: number[] = [];
      const rawTimes: number[] = [];
      try {
        for (let repeat = 0; repeat < plan.drainRepeats; repeat++) {
          enqueueAll(store, count);
          defaultTimes.push(await drainAll(store, broker.url));
          enqueueAll(store, count);
          window1Times.push(await drainAll(store, broker.url, 1));
          rawTimes.push(await rawPublishLoop(broker.url, count));
        }
      } finally {
        store.close();
      }
      const [defaultMs, window1Ms, rawMs] = [defaultTimes, window1Times, rawTimes].map(median);
      drainMs.push(defaultMs!);
      rows.push([
        count,
        seconds(defaultMs!),
        rate(count, defaultMs!),
        rate(count, window1Ms!),
        rate(count, rawMs!),
        formatRatio(rawMs!, defaultMs!),
        formatRatio(rawMs!, window1Ms!),
      ]);
    }
    report.table(
      [
        'queued rows',
        'drain time, s',
        'drain msg/s (default window)',
        'drain msg/s (window 1)',
        'raw loop msg/s',
        'ratio (default window)',
        'ratio (window 1)',
      ],
      rows,
    );
    const minCount = plan.drainCounts[0]!;
    const maxCount = plan.drainCounts.at(-1)!;
    const countFactor = maxCount / minCount;
    const timeFactor = drainMs.at(-1)! / drainMs[0]!;
    // A line through the first and last rows splits the drain time into a fixed part per drain
    // and a part per message.
    const perRowMs = (drainMs.at(-1)! - drainMs[0]!) / (maxCount - minCount);
    const fixedMs = drainMs[0]! - perRowMs * minCount;
    report.paragraph(
      `Growth with the queue: ${countFactor}× the rows took ${timeFactor.toFixed(1)}× the drain ` +
        `time (growth factor per row ${(timeFactor / countFactor).toFixed(2)}; 1.00 is linear). ` +
        `A line through the first and last rows gives ${formatMs(fixedMs)} ms per drain plus ` +
        `${formatMs(perRowMs)} ms per message.`,
    );
  } finally {
    await broker.stop();
  }
  sqliteWrites(report, plan, scratch, record);
}

/** Runs each path once untimed, so that the first table row pays no first-use costs. */
async function warmUpOutbox(url: string, scratch: string): Promise<void> {
  const store = openDatabase(join(scratch, 'outbox-warm-up.sqlite'), silentLogger());
  try {
    enqueueAll(store, 100);
    await drainAll(store, url);
    await rawPublishLoop(url, 100);
  } finally {
    store.close();
  }
}

function sqliteWrites(
  report: Report,
  plan: Plan,
  scratch: string,
  record: ScanRecord | null,
): void {
  const store = openDatabase(join(scratch, 'writes.sqlite'), silentLogger());
  try {
    const count = plan.saveScanCount;
    const enqueueMs = enqueueAll(store, count);
    const rows: (string | number)[][] = [
      ['enqueue one outbox message', count, rate(count, enqueueMs), formatMs(enqueueMs / count)],
    ];
    if (record) {
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        const copy: ScanRecord = {
          ...record,
          caseId: `bench-${i}`,
          estimateId: crypto.randomUUID(),
        };
        saveScan(store, copy, [{ topic: BENCH_TOPIC, kind: 'estimate', payload: benchPayload(i) }]);
      }
      const saveMs = performance.now() - started;
      rows.push([
        'saveScan: case, 4 views, estimate and outbox message',
        count,
        rate(count, saveMs),
        formatMs(saveMs / count),
      ]);
    }
    report.paragraph(
      'SQLite writes, one transaction each, WAL with synchronous=FULL as the store opens it.',
    );
    report.table(['write', 'count', 'per second', 'ms each'], rows);
    if (!record) report.skipped('saveScan', 'no scan record, because the scan section failed');
  } finally {
    store.close();
  }
}

// --- Daemon -----------------------------------------------------------------------------------

export async function daemonSection(report: Report, plan: Plan, scratch: string): Promise<void> {
  const broker = await startMosquitto();
  const daemons: RunningDaemon[] = [];
  try {
    const config = join(scratch, 'daemon.yaml');
    writeDaemonConfig(config, { dataDir: join(scratch, 'daemon-data'), brokerUrl: broker.url });
    const cliMs: number[] = [];
    for (let i = 0; i < Math.max(plan.warmStarts, 2); i++) cliMs.push(await timeCli(['--help']));

    const cold = await startDaemon(config);
    daemons.push(cold);
    await cold.stop();
    const warm: RunningDaemon[] = [];
    for (let i = 0; i < plan.warmStarts; i++) {
      const daemon = await startDaemon(config);
      daemons.push(daemon);
      warm.push(daemon);
      if (i < plan.warmStarts - 1) await daemon.stop();
    }
    const cliBaseline = median(cliMs);
    const warmRunning = median(warm.map((daemon) => daemon.runningMs));
    const warmReady = median(warm.map((daemon) => daemon.readyMs));
    report.paragraph(
      '`bv-edge run` with a looped real-time phantom IVC source, CPU inference and mosquitto on ' +
        '127.0.0.1, from spawn to the "bv-edge running" line and to the first 200 from /readyz ' +
        '(store open, models loaded, capture live). The first start generates the phantom ' +
        'clips. Baseline: `bv-edge --help` from spawn to exit (Node, tsx and the CLI modules).',
    );
    report.table(
      ['start', 'to running line, s', 'to /readyz 200, s', 'ready / `bv-edge --help`'],
      [
        ['`bv-edge --help` (baseline)', seconds(cliBaseline), '', '1.00'],
        [
          'first (generates phantom clips)',
          seconds(cold.runningMs),
          seconds(cold.readyMs),
          formatRatio(cold.readyMs, cliBaseline),
        ],
        [
          `later (median of ${plan.warmStarts})`,
          seconds(warmRunning),
          seconds(warmReady),
          formatRatio(warmReady, cliBaseline),
        ],
      ],
    );
    await memoryTable(report, warm.at(-1)!, plan.memoryLoops);
  } finally {
    for (const daemon of daemons) await daemon.stop();
    await broker.stop();
  }
}

async function memoryTable(report: Report, daemon: RunningDaemon, loops: number): Promise<void> {
  const samples = await sampleLoopedMemory(daemon, loops);
  // About eight rows whatever the loop count, always with ready, loop 1 and the last loop.
  const step = Math.max(1, Math.round(loops / 8));
  const tableSamples = samples.filter(
    (sample, i) => i <= 1 || i === samples.length - 1 || sample.loop % step === 0,
  );
  report.paragraph(
    `Resident memory (VmRSS), MiB, of the daemon and its capture process at ready and after ` +
      `each play of the ${PHANTOM_CLIP_SECONDS} s phantom clip at its frame rate, ${loops} ` +
      'loops (counted by wall time, since the daemon reports no loop count).',
  );
  report.table(
    ['loops played', 'daemon', 'capture process'],
    tableSamples.map((sample) => [
      sample.loop,
      sample.daemonMib.toFixed(1),
      sample.childrenMib.toFixed(1),
    ]),
  );
  const growth = (now: number, then: number): string =>
    `${(((now - then) / then) * 100).toFixed(1)} %`;
  const start = samples[0]!;
  const firstLoop = samples[1] ?? start;
  const last = samples.at(-1)!;
  report.paragraph(
    `Growth of the daemon: ${growth(last.daemonMib, start.daemonMib)} from ready, ` +
      `${growth(last.daemonMib, firstLoop.daemonMib)} from loop 1 to loop ${last.loop}. ` +
      `Capture process: ${growth(last.childrenMib, firstLoop.childrenMib)} from loop 1.`,
  );
}
