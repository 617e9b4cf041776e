import { BvEdgeError } from '../core/errors.ts';

/** Topic under the base that carries EstimateMessage payloads. */
export const ESTIMATES_TOPIC = 'estimates';

/** Topic under the base that carries TrainingRecordMessage payloads. */
export const TRAINING_TOPIC = 'training';

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

function checkTopicBase(base: string): string {
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
