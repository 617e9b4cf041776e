import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { connectAsync, type MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';

import { loadConfig, type Config } from '../../src/config/index.ts';
import type { CaptureState, FrameSource, TimedFrame } from '../../src/core/frames.ts';
import type { Rect } from '../../src/core/image.ts';
import { FleetAgent, fleetWill, LatencyRecorder, LogRing } from '../../src/fleet/index.ts';
import { OutboxPublisher } from '../../src/mqtt/publisher.ts';
import { defaultTopicBase } from '../../src/mqtt/topics.ts';
import { openDatabase, type Store } from '../../src/store/index.ts';

/** A frame source whose state the test sets; it delivers no frames. */

/** The bundles that the test agent reports in `info`: one delivered over the air, one before. */
export const FLEET_BUNDLES = {
  active: { name: 'reference', version: '1.1.0', source: 'installed', intendedUse: 'research' },
  previous: { name: 'reference', version: '1.0.0', source: 'configured', intendedUse: 'reference' },
  gate: 'passed',
};

export class StubFrameSource implements FrameSource {
  fps = 0;
  private current: CaptureState = 'live';
  private readonly listeners = new Set<(state: CaptureState) => void>();

  get state(): CaptureState {
    return this.current;
  }

  imageArea(): Rect | null {
    return null;
  }

  subscribe(_listener: (frame: TimedFrame) => void): () => void {
    return () => undefined;
  }

  onStateChange(listener: (state: CaptureState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setState(state: CaptureState): void {
    this.current = state;
    for (const listener of this.listeners) listener(state);
  }
}

export const SITE = 'test-site';

/** A fleet agent on a real OutboxPublisher and SQLite store, with a config file in a temp folder. */
export interface AgentHarness {
  dir: string;
  base: string;
  configFile: string;
  config: Config;
  store: Store;
  publisher: OutboxPublisher;
  agent: FleetAgent;
  source: StubFrameSource;
  logLines: LogRing;
  logger: Logger;
  /** Times the agent asked for a capture restart. */
  captureRestarts: () => number;
  stop(): Promise<void>;
}

/** Returns the harness's config file text; its comments show whether config-set keeps them. */
export function configText(brokerUrl: string, device: string, dataDir: string): string {
  return [
    '# Written by the fleet tests.',
    'version: 2',
    `dataDir: ${dataDir}`,
    'mqtt:',
    '  # The test broker.',
    `  url: ${brokerUrl}`,
    `  site: ${SITE}`,
    `  device: ${device}`,
    'fleet:',
    '  telemetryIntervalS: 3600',
    '',
  ].join('\n');
}

export async function startAgent(brokerUrl: string, device: string): Promise<AgentHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'bv-edge-fleet-'));
  const configFile = join(dir, 'bv-edge.yaml');
  await writeFile(configFile, configText(brokerUrl, device, dir));
  const config = loadConfig({}, { file: configFile, env: {} });
  const logLines = new LogRing(100);
  const logger = pino({ level: 'info' }, logLines);
  const store = openDatabase(join(dir, 'bv-edge.sqlite'), logger);
  const base = defaultTopicBase(SITE, device);
  const publisher = new OutboxPublisher({
    store,
    brokerUrl,
    clientId: `bv-edge-${device}`,
    logger,
    topicBase: base,
    will: fleetWill(base),
    reconnectPeriodMs: 100,
    maxReconnectPeriodMs: 500,
    pollIntervalMs: 200,
  });
  await publisher.start();
  const source = new StubFrameSource();
  let captureRestarts = 0;
  const agent = new FleetAgent({
    link: publisher,
    queue: (message) => publisher.queue(message),
    store,
    config,
    configFile,
    frameSource: source,
    framesDropped: () => 3,
    restartCapture: () => {
      captureRestarts += 1;
      source.setState('starting');
      return Promise.resolve();
    },
    engine: () => ({
      manifest: { name: 'reference', version: '1.0.0', intendedUse: 'reference' },
      providers: { ivc: 'cpu', fusion: 'cpu' },
    }),
    bundles: () => FLEET_BUNDLES,
    latency: new LatencyRecorder(),
    outbox: () => publisher.stats(),
    logLines,
    logger: logger.child({ subsystem: 'fleet' }),
    env: {},
  });
  agent.start();
  return {
    dir,
    base,
    configFile,
    config,
    store,
    publisher,
    agent,
    source,
    logLines,
    logger,
    captureRestarts: () => captureRestarts,
    stop: async () => {
      await agent.stop();
      await publisher.stop();
      store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A subscriber that records every message it receives, for assertions on topics. */
export interface Recorder {
  client: MqttClient;
  messages: { topic: string; payload: unknown; retain: boolean }[];
  /** Resolves with the first message on `topic` that `match` accepts, seen before or after. */
  next(topic: string, match?: (payload: unknown) => boolean, timeoutMs?: number): Promise<unknown>;
  close(): Promise<void>;
}

export async function record(brokerUrl: string, filters: string[]): Promise<Recorder> {
  const client = await connectAsync(brokerUrl, {
    clientId: `fleet-test-${Math.random().toString(16).slice(2)}`,
    reconnectPeriod: 0,
  });
  const messages: Recorder['messages'] = [];
  client.on('message', (topic, payload, packet) => {
    let parsed: unknown = payload.toString();
    try {
      parsed = JSON.parse(payload.toString()) as unknown;
    } catch {
      // Kept as text.
    }
    messages.push({ topic, payload: parsed, retain: packet.retain });
  });
  await client.subscribeAsync(filters, { qos: 1 });
  return {
    client,
    messages,
    next: async (topic, match = () => true, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = messages.find((m) => m.topic === topic && match(m.payload));
        if (found) return found.payload;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(
        `no matching message on ${topic} within ${timeoutMs} ms; got ` +
          JSON.stringify(messages.map((m) => m.topic)),
      );
    },
    close: () => client.endAsync(),
  };
}
