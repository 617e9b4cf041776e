import { BvEdgeError } from '../core/errors.ts';

/** Topic under the base that carries EstimateMessage payloads. */
export const ESTIMATES_TOPIC = 'estimates';

/** Topic under the base that carries TrainingRecordMessage payloads. */
export const TRAINING_TOPIC = 'training';

/** Topic under the base that carries device events such as "outbox-full". */
export const EVENTS_TOPIC = 'events';

/**
 * Returns the default topic base `bv-edge/v1/<site>/<device>/`. Throws BvEdgeError
 * INVALID_MQTT_TOPIC when `site` or `device` is empty or contains `/`, `+`, `#` or NUL, because
 * those would change the topic's levels or make it a wildcard.
 */
export function defaultTopicBase(site: string, device: string): string {
  return `bv-edge/v1/${checkTopicLevel('site', site)}/${checkTopicLevel('device', device)}/`;
}

/** Returns the estimates topic under `base`, which must end with `/`. */
export function estimatesTopic(base: string): string {
  return `${checkTopicBase(base)}${ESTIMATES_TOPIC}`;
}

/** Returns the training-record topic under `base`, which must end with `/`. */
export function trainingTopic(base: string): string {
  return `${checkTopicBase(base)}${TRAINING_TOPIC}`;
}

/**
 * Returns `mqtt.topicBase` when set, else the default base of `mqtt.site` and `mqtt.device`.
 * Throws BvEdgeError INVALID_MQTT_TOPIC for a base that does not end with "/" or has wildcards.
 */
export function configuredTopicBase(mqtt: { topicBase?: string; site: string; device: string }) {
  if (mqtt.topicBase !== undefined) return checkTopicBase(mqtt.topicBase);
  return defaultTopicBase(mqtt.site, mqtt.device);
}

/**
 * Returns whether `topic` matches the subscription `filter`, with MQTT's "+" (one level) and "#" (this
 * level and all below it) wildcards. Topics that start with "$" match only filters that name
 * that first level, as MQTT 3.1.1 section 4.7.2 requires.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  if (topic.startsWith('$') && !filter.startsWith('$')) return false;
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === '#') return true;
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/** Returns `base` when it ends with "/" and has no wildcard or NUL, else throws. */
export function checkTopicBase(base: string): string {
  if (!base.endsWith('/') || /[+#\0]/.test(base)) {
    throw new BvEdgeError(
      'INVALID_MQTT_TOPIC',
      `Invalid MQTT topic base ${JSON.stringify(base)}: it must end with "/" and contain no ` +
        '"+", "#" or NUL, e.g. "bv-edge/v1/site-a/cart-1/".',
      { value: base },
    );
  }
  return base;
}

function checkTopicLevel(name: string, value: string): string {
  if (value === '' || /[/+#\0]/.test(value)) {
    throw new BvEdgeError(
      'INVALID_MQTT_TOPIC',
      `Invalid MQTT ${name} ${JSON.stringify(value)}: it must be non-empty and contain no ` +
        '"/", "+", "#" or NUL.',
      { value },
    );
  }
  return value;
}
