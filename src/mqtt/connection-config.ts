import type { Config } from '../config/schema.ts';
import type { Secrets } from '../config/secrets.ts';
import type { Logger } from '../core/log.ts';
import type { Store } from '../store/db.ts';
import type { OutboxPublisherOptions } from './publisher.ts';
import { configuredTopicBase } from './topics.ts';

const TLS_SCHEMES = new Set(['mqtts:', 'ssl:', 'tls:', 'wss:']);

/**
 * Builds the publisher options of the daemon and the one-shot commands from the config and the
 * secrets read from the files it names (src/config/secrets.ts). The client id is
 * "bv-edge-<device>", so the broker keeps one MQTT 5 session per cart.
 */
export function publisherOptionsFromConfig(
  config: Config,
  secrets: Pick<Secrets, 'mqttPassword' | 'mqttTls'>,
  store: Store,
  logger: Logger,
): OutboxPublisherOptions {
  const { mqtt } = config;
  const { ca, cert, key } = secrets.mqttTls;
  const usesTls = URL.canParse(mqtt.url) && TLS_SCHEMES.has(new URL(mqtt.url).protocol);
  if (!usesTls && (ca !== null || cert !== null)) {
    logger.warn(
      { url: mqtt.url },
      'mqtt.tls files are set but mqtt.url does not use TLS, so they are not used; ' +
        'use mqtts:// to connect with TLS',
    );
  }
  return {
    store,
    brokerUrl: mqtt.url,
    clientId: `bv-edge-${mqtt.device}`,
    logger,
    topicBase: configuredTopicBase(mqtt),
    connectTimeoutMs: mqtt.publishTimeoutMs,
    protocolVersion: mqtt.protocolVersion,
    sessionExpirySeconds: mqtt.sessionExpirySeconds,
    ...(mqtt.username !== undefined && { username: mqtt.username }),
    ...(secrets.mqttPassword && { password: secrets.mqttPassword }),
    tls: {
      ...(ca !== null && { ca }),
      ...(cert !== null && { cert }),
      ...(key !== null && { key }),
      rejectUnauthorized: mqtt.tls.rejectUnauthorized,
    },
    inflightWindow: mqtt.outbox.inflightWindow,
    limits: {
      maxRows: mqtt.outbox.maxRows,
      maxBytes: mqtt.outbox.maxBytes,
      maxAgeS: mqtt.outbox.maxAgeDays * 24 * 3600,
    },
  };
}
