import { z } from 'zod';

// Schemas of every fleet payload. The known shapes are strict objects, so no field can be added
// by accident. Free-form parts (event data, response data) are checked by
// findPatientIdentifier, so that no name, MRN or birth date leaves the cart over MQTT.

/** Keys that are a patient identifier whole, compared without case, "_" or "-". */
const IDENTIFIER_KEYS = new Set([
  'mrn',
  'mrns',
  'medicalrecordnumber',
  'name',
  'firstname',
  'lastname',
  'givenname',
  'familyname',
  'fullname',
  'middlename',
  'maidenname',
  'dob',
  'dateofbirth',
  'birthdate',
  'ssn',
  'socialsecuritynumber',
  'nationalid',
  'insurancenumber',
]);

/**
 * Returns true when `key` names a patient identifier: any key that starts with "patient", a key whose last
 * word is "mrn" (hl7Mrn), or one of IDENTIFIER_KEYS except the bare "name". The bare "name" stays
 * allowed because model bundles and execution providers have names. A patient's name sits under
 * a patient* key or under a name key of its own, such as lastName. Settings such as mrnRetentionMinutes do not match.
 */
export function isPatientIdentifierKey(key: string): boolean {
  const flat = key.replace(/[_-]/g, '').toLowerCase();
  if (flat.startsWith('patient')) return true;
  if (flat !== 'name' && IDENTIFIER_KEYS.has(flat)) return true;
  const words = key.split(/[_-]|(?<=[a-z0-9])(?=[A-Z])/);
  const last = words[words.length - 1]?.toLowerCase();
  return last === 'mrn' || last === 'mrns';
}

/**
 * Returns the dotted path of the first key in `value` that names a patient identifier, or null
 * when there is none. Arrays are searched by index.
 */
export function findPatientIdentifier(value: unknown, path: string[] = []): string | null {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findPatientIdentifier(item, [...path, String(index)]);
      if (found !== null) return found;
    }
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  for (const [key, inner] of Object.entries(value)) {
    if (isPatientIdentifierKey(key)) return [...path, key].join('.');
    const found = findPatientIdentifier(inner, [...path, key]);
    if (found !== null) return found;
  }
  return null;
}

/** Schema of a JSON object with no patient identifier key at any depth. */
const freeFormData = z.record(z.string(), z.unknown()).superRefine((value, context) => {
  const found = findPatientIdentifier(value);
  if (found !== null) {
    context.addIssue({
      code: 'custom',
      message: `patient identifier key "${found}" is not allowed in fleet payloads`,
    });
  }
});

const isoTime = z.iso.datetime();

/** Retained `status`: online after every connect, offline at shutdown and as the last will. */
export const StatusPayload = z.strictObject({
  state: z.enum(['online', 'offline']),
  /** When the daemon published it; absent in the last will, which the broker sends later. */
  at: isoTime.optional(),
  /** Why the state changed: connected, stopped (clean shutdown) or connection-lost (the will). */
  reason: z.enum(['connected', 'stopped', 'connection-lost']),
});
export type StatusPayload = z.infer<typeof StatusPayload>;

export const ModelSummary = z.strictObject({
  name: z.string(),
  version: z.string(),
  intendedUse: z.string(),
  /** Execution provider of each model of the bundle, e.g. { ivc: "cuda", fusion: "cpu" }. */
  providers: z.record(z.string(), z.string()),
});
export type ModelSummary = z.infer<typeof ModelSummary>;

/** Retained `info`, published after every connect and when the model changes. */
/** One model bundle as `info` names it. */
const BundleSummary = z.strictObject({
  name: z.string(),
  version: z.string(),
  /** `installed` for a bundle delivered over the air, `configured` for the config's modelDir. */
  source: z.string(),
  intendedUse: z.string(),
});

/** The active and the previous model bundle, and the health gate of the last activation. */
export const BundlesSummary = z.strictObject({
  active: BundleSummary.nullable(),
  previous: BundleSummary.nullable(),
  gate: z.string(),
});
export type BundlesSummary = z.infer<typeof BundlesSummary>;

export const InfoPayload = z.strictObject({
  at: isoTime,
  site: z.string(),
  device: z.string(),
  /** bv-edge version from package.json. */
  daemonVersion: z.string(),
  nodeVersion: z.string(),
  startedAt: isoTime,
  /** The loaded model bundle; null when none is loaded. */
  model: ModelSummary.nullable(),
  /** The active and the previous bundle of the bundle store; null without one. */
  bundles: BundlesSummary.nullable(),
  /** SHA-256 of the effective config with secret-named keys removed, hex. */
  configHash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type InfoPayload = z.infer<typeof InfoPayload>;

const latencySummary = z.strictObject({
  /** Runs in the window that the percentiles cover. */
  count: z.number().int().nonnegative(),
  p50Ms: z.number().nonnegative().nullable(),
  p95Ms: z.number().nonnegative().nullable(),
});

/** Periodic `telemetry`. Values that this device cannot measure are null. */
export const TelemetryPayload = z.strictObject({
  messageId: z.uuid(),
  at: isoTime,
  /** Seconds since the daemon started. */
  uptimeS: z.number().nonnegative(),
  /** Seconds since the operating system booted. */
  systemUptimeS: z.number().nonnegative(),
  capture: z.strictObject({
    state: z.string(),
    fps: z.number().nonnegative(),
    /** Frames dropped since capture started; null when the source does not count them. */
    framesDropped: z.number().int().nonnegative().nullable(),
  }),
  /** Inference latency of the recent runs per model kind. */
  inference: z.strictObject({ view: latencySummary, fusion: latencySummary }),
  outbox: z.strictObject({
    depth: z.number().int().nonnegative(),
    oldestAgeS: z.number().nonnegative().nullable(),
    full: z.boolean(),
  }),
  disk: z
    .strictObject({
      path: z.string(),
      freeBytes: z.number().nonnegative(),
      totalBytes: z.number().nonnegative(),
      low: z.boolean(),
    })
    .nullable(),
  temperatures: z.strictObject({ cpuC: z.number().nullable(), gpuC: z.number().nullable() }),
  mqttConnected: z.boolean(),
});
export type TelemetryPayload = z.infer<typeof TelemetryPayload>;

/** Event types are lowercase words joined by hyphens, e.g. "capture-frozen" or "disk-low". */
export const EVENT_TYPE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** One `events` message. */
export const EventPayload = z.strictObject({
  messageId: z.uuid(),
  type: z.string().regex(EVENT_TYPE),
  at: isoTime,
  data: freeFormData,
});
export type EventPayload = z.infer<typeof EventPayload>;

/** A `request/<command>` payload, checked after the transaction id has been read. */
export const RequestEnvelope = z.strictObject({
  transactionId: z.string().min(1).max(128),
  params: z.unknown().optional(),
  /** Sender name, e.g. "engineer@laptop", stored as the actor in the audit log. */
  client: z.string().min(1).max(128).optional(),
});
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

export const ResponseError = z.strictObject({ code: z.string(), message: z.string() });
export type ResponseError = z.infer<typeof ResponseError>;

/** A `response/<command>` payload. */
export const ResponsePayload = z
  .strictObject({
    transactionId: z.string(),
    status: z.enum(['ok', 'error']),
    data: z.unknown(),
    error: ResponseError.nullable(),
  })
  .superRefine((response, context) => {
    const found = findPatientIdentifier(response.data);
    if (found !== null) {
      context.addIssue({
        code: 'custom',
        path: ['data'],
        message: `patient identifier key "${found}" is not allowed in fleet payloads`,
      });
    }
  });
export type ResponsePayload = z.infer<typeof ResponsePayload>;
