import { BvEdgeError } from '../core/errors.ts';

/** Topics of the fleet protocol, relative to a device's topic base. */
export const FLEET_TOPICS = {
  /** Retained online/offline state; also the connection's last will. */
  status: 'status',
  /** Retained daemon version, model bundle, execution providers and config hash. */
  info: 'info',
  /** Periodic measurements, through the outbox. */
  telemetry: 'telemetry',
  /** Retained copy of the latest telemetry, published directly while connected. */
  telemetryLatest: 'telemetry/latest',
  /** Things that happened on the device, through the outbox. */
  events: 'events',
  /** Prefix of request topics: `request/<command>`. */
  request: 'request',
  /** Prefix of response topics: `response/<command>`. */
  response: 'response',
} as const;

/** Command names are one topic level of lowercase words joined by hyphens, e.g. "config-set". */
export const COMMAND_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Maximum length of a command name, characters. */
const MAX_COMMAND_LENGTH = 64;

/** Returns `base` + `name` for a fleet topic, e.g. "bv-edge/v1/site-a/cart-1/status". */
export function fleetTopic(base: string, name: keyof typeof FLEET_TOPICS): string {
  return `${base}${FLEET_TOPICS[name]}`;
}

/** Returns the request topic of `command` under `base`. */
export function requestTopic(base: string, command: string): string {
  return `${base}${FLEET_TOPICS.request}/${checkCommandName(command)}`;
}

/**
 * Returns the response topic of `command` under `base`. The command is used as received, so
 * the response to a request for an unknown or misspelt command goes where its sender listens.
 */
export function responseTopic(base: string, command: string): string {
  return `${base}${FLEET_TOPICS.response}/${command}`;
}

/** Returns the command that a request topic under `base` names, or null for any other topic. */
export function commandOfRequestTopic(base: string, topic: string): string | null {
  const prefix = `${base}${FLEET_TOPICS.request}/`;
  if (!topic.startsWith(prefix)) return null;
  const command = topic.slice(prefix.length);
  return command.includes('/') ? null : command;
}

/** Returns true when `command` is a valid command name. */
export function isCommandName(command: string): boolean {
  return command.length <= MAX_COMMAND_LENGTH && COMMAND_NAME.test(command);
}

/** Returns `command`, or throws BvEdgeError invalid_command_name naming the rule. */
export function checkCommandName(command: string): string {
  if (isCommandName(command)) return command;
  throw new BvEdgeError(
    'invalid_command_name',
    `Invalid fleet command name ${JSON.stringify(command)}: use lowercase letters, digits and ` +
      `single hyphens, starting with a letter, at most ${MAX_COMMAND_LENGTH} characters, ` +
      'e.g. "config-get".',
    { value: command },
  );
}
