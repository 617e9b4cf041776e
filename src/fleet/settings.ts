import { z } from 'zod';

import { setting } from '../config/describe.ts';

/** Lines of recent log output that the daemon keeps in memory for `log-tail` requests. */
export const LOG_RING_LINES = 1000;

/** The `fleet` section of the config: telemetry, requests and events over MQTT. */
export const FleetSchema = z.strictObject({
  enabled: setting(
    z.boolean(),
    true,
    'Publish status, info, telemetry and events, and answer fleet requests over MQTT.',
  ),
  telemetryIntervalS: setting(
    z.number().int().min(5).max(3600),
    60,
    'Interval between telemetry messages, s.',
  ),
  maxRequestBytes: setting(
    z.number().int().min(1024).max(1_048_576),
    65_536,
    'Largest request payload the daemon reads, bytes; larger requests get a payload_too_large ' +
      'error.',
  ),
  logTailMaxLines: setting(
    z.number().int().min(1).max(LOG_RING_LINES),
    200,
    `Most log lines one log-tail request returns; the daemon keeps the last ${LOG_RING_LINES}.`,
  ),
});
export type FleetSettings = z.infer<typeof FleetSchema>;
