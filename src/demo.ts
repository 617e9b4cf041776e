import { once } from 'node:events';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { App } from './app.ts';
import type { Config } from './config/index.ts';
import { VIEW_NAMES } from './core/image.ts';
import type { Logger } from './core/log.ts';
import { createStatusApp, serveStatus } from './http/index.ts';
import { startEmbeddedBroker } from './mqtt/broker.ts';
import { ensurePhantomClips } from './phantom/index.ts';
import { formatScanReport } from './scan/report.ts';
import type { Covariates, ScanRecord } from './scan/types.ts';
import { outboxStats } from './store/index.ts';

export interface DemoOptions {
  config: Config;
  logger: Logger;
  serve: boolean;
  port: number;
  out: NodeJS.WritableStream;
  /** Resolves when a served demo should stop; default on SIGINT or SIGTERM. */
  until?: Promise<unknown>;
}

/** The demo patient: an adult woman, inside the study's inclusion criteria. */
const DEMO_PATIENT: Covariates = { heightCm: 165, weightKg: 62, sex: 'female', ageYears: 46 };

/** The phantom patient's true blood volume as a share of Nadler's value: mild hypovolaemia. */
const DEMO_VOLUME_STATE = 0.85;

/** How long the demo waits for its own subscriber to receive the estimate, ms. */
const RECEIVE_TIMEOUT_MS = 10_000;

/**
 * Runs the embedded default end to end: phantom clips for the four views, an in-process MQTT
 * broker on 127.0.0.1, one scan, and the estimate as a subscriber received it.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { logger, out } = options;
  const clips = await ensurePhantomClips(join(options.config.dataDir, 'phantom'), {
    volumeState: DEMO_VOLUME_STATE,
  });
  const broker = await startEmbeddedBroker({ logger: logger.child({ subsystem: 'broker' }) });
  const config: Config = { ...options.config, mqtt: { ...options.config.mqtt, url: broker.url } };
  const app = new App(config, logger);
  let subscriber: MqttClient | undefined;
  try {
    subscriber = await connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    const topicFilter = `bv-edge/v1/${config.mqtt.site}/${config.mqtt.device}/estimates`;
    await subscriber.subscribeAsync(topicFilter, { qos: 1 });
    const received = collectMessages(subscriber);

    await app.open();
    const { record, delivery } = await app.scan({
      caseId: `demo-${Date.now()}`,
      covariates: DEMO_PATIENT,
      views: VIEW_NAMES.map((view) => ({
        view,
        path: clips[view].path,
        mmPerPixel: clips[view].truth.mmPerPixel,
      })),
    });
    out.write(`${formatScanReport(record, delivery, broker.url)}\n`);
    const trueMl = DEMO_VOLUME_STATE * record.estimate.nadlerMl;
    out.write(
      `Phantom truth:         ${Math.round(trueMl)} mL ` +
        `(the phantom patient is at ${DEMO_VOLUME_STATE * 100} % of Nadler's value)\n\n`,
    );
    const message = await received.next(RECEIVE_TIMEOUT_MS);
    out.write(`MQTT message received on ${message.topic}:\n${message.payload}\n`);

    if (options.serve) await serveUntilStopped(app, record, options);
    return 0;
  } finally {
    subscriber?.end(true);
    await app.close();
    await broker.close();
  }
}

/**
 * Collects the subscriber's messages from now on. `next()` resolves with the first one, waiting
 * at most `timeoutMs` from the call, so a slow scan before it does not use up the wait.
 */
function collectMessages(client: MqttClient): {
  next(timeoutMs: number): Promise<{ topic: string; payload: string }>;
} {
  const messages: { topic: string; payload: string }[] = [];
  let notify: (() => void) | undefined;
  client.on('message', (topic, payload) => {
    messages.push({ topic, payload: payload.toString('utf8') });
    notify?.();
  });
  return {
    next(timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`No MQTT message arrived within ${timeoutMs} ms.`)),
          timeoutMs,
        );
        notify = () => {
          clearTimeout(timer);
          resolve(messages[0]!);
        };
        if (messages.length > 0) notify();
      });
    },
  };
}

async function serveUntilStopped(app: App, record: ScanRecord, options: DemoOptions) {
  const startedAt = new Date().toISOString();
  const statusApp = createStatusApp(() => ({
    latestScan: record,
    outbox: outboxStats(app.store.db),
    mqttConnected: app.mqttConnected,
    startedAt,
  }));
  const server = await serveStatus(statusApp, { host: '127.0.0.1', port: options.port });
  options.out.write(`Status page on ${server.url} (Ctrl-C stops it)\n`);
  try {
    await (options.until ?? Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]));
  } finally {
    await server.close();
  }
}
