import { join } from 'node:path';

import { readSecrets, type Config } from '../config/index.ts';
import type { Logger } from '../core/log.ts';
import { OutboxPublisher, type DrainResult } from '../mqtt/publisher.ts';
import { publisherOptionsFromConfig } from '../mqtt/connection-config.ts';
import { configuredTopicBase } from '../mqtt/topics.ts';
import { deliveryLine, populationLine } from '../scan/report.ts';
import { openDatabase, type Store } from '../store/db.ts';
import { enterLabel, type LabelEntry, type LabelEntryResult } from '../store/labels.ts';
import { formatAnhLabels } from './anh-format.ts';
import {
  ANH_OPTIONS,
  anhRecordFrom,
  anhSiteSettings,
  asUsageErrors,
  methodFrom,
  type AnhSiteSettings,
} from './anh-options.ts';
import { configFrom, parseCommandLine, UsageError } from './common.ts';

const LABEL_OPTIONS = {
  ...ANH_OPTIONS,
  'case-id': { type: 'string' },
  'entered-by': { type: 'string' },
  broker: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

/**
 * `bv-edge label`: computes the ANH label of a scanned case, stores it with an audit entry and a
 * queued training record, then tries to publish the outbox. Exit code 1 when the case id is not
 * stored, 2 when a value is invalid. `settings` replaces the site settings of the config.
 */
export async function labelCommand(
  args: string[],
  logger: Logger,
  settings?: AnhSiteSettings,
): Promise<number> {
  const { values } = parseCommandLine(args, LABEL_OPTIONS);
  const config = configFrom(values);
  const site = settings ?? anhSiteSettings(config.clinical);
  const entry: LabelEntry = {
    caseId: requireOption(values['case-id'], 'case-id', 'the pseudonymous case id of the scan'),
    enteredBy: requireOption(values['entered-by'], 'entered-by', 'your name or login'),
    record: anhRecordFrom(values, site),
  };
  const method = methodFrom(values);
  if (method !== undefined) entry.method = method;
  const store = openDatabase(
    join(config.dataDir, 'bv-edge.sqlite'),
    logger.child({ subsystem: 'store' }),
  );
  try {
    const result = asUsageErrors(() => enterLabel(store, entry, entryOptions(config, site)));
    logger.info(
      { caseId: entry.caseId, methods: result.labels.map((label) => label.method) },
      'ANH label stored',
    );
    const delivery = await publishOutbox(store, config, logger);
    printResult(result, delivery, config.mqtt.url, site, values.json === true);
    return 0;
  } finally {
    store.close();
  }
}

function requireOption(value: unknown, name: string, meaning: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new UsageError(`Missing --${name}: give ${meaning}.`);
  }
  return value;
}

function entryOptions(config: Config, settings: AnhSiteSettings) {
  return {
    topicBase: configuredTopicBase(config.mqtt),
    anticoagulantMlPerBag: settings.anticoagulantMlPerBag,
    minEquilibrationMinutes: settings.minEquilibrationMinutes,
    weightBasedMlPerKg: settings.weightBasedMlPerKg,
  };
}

/** Sends what the outbox contains, the new training records included; unsent ones stay queued. */
async function publishOutbox(store: Store, config: Config, logger: Logger): Promise<DrainResult> {
  const secrets = await readSecrets(config, logger.child({ subsystem: 'config' }));
  const publisher = new OutboxPublisher(
    publisherOptionsFromConfig(config, secrets, store, logger.child({ subsystem: 'mqtt' })),
  );
  try {
    return await publisher.drain({ timeoutMs: config.mqtt.publishTimeoutMs });
  } finally {
    await publisher.stop();
  }
}

function printResult(
  result: LabelEntryResult,
  delivery: DrainResult,
  brokerUrl: string,
  settings: AnhSiteSettings,
  json: boolean,
): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...result, delivery }, null, 2)}\n`);
    return;
  }
  const first = result.labels[0];
  const revisions = result.labels.map((label) => `${label.method} revision ${label.revision}`);
  const lines = [
    `Case ${first?.caseId}: ANH label stored (${revisions.join(', ')}), ` +
      `entered by ${first?.enteredBy} at ${first?.enteredAt}`,
    ...formatAnhLabels(result.labels, settings.hbDisplayUnit),
    populationLine(result.population),
    deliveryLine(delivery, brokerUrl),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
