import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  DEFAULT_ANTICOAGULANT_ML_PER_BAG,
  DEFAULT_MIN_EQUILIBRATION_MINUTES,
} from '../clinical/anh.ts';
import { ANH_LIMITS } from '../clinical/anh.ts';
import { HEIGHT_UNITS, HEMOGLOBIN_UNITS, WEIGHT_UNITS } from '../clinical/units.ts';
import { DEFAULT_BLOOD_VOLUME_ML_PER_KG, ML_PER_KG_LIMITS } from '../clinical/weight-based.ts';
import { VIEW_NAMES } from '../core/image.ts';
import { PAGE_LANGUAGES } from '../http/languages.ts';
import { FleetSchema } from '../fleet/settings.ts';
import { CaptureSchema } from './capture-schema.ts';
import { optionalSetting, section, setting } from './describe.ts';
import { ModelsSchema } from '../ota/config-schema.ts';
import { StorageSchema } from '../ops/storage-schema.ts';
import { Hl7Schema } from './hl7-schema.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/** The config file format that this version of bv-edge writes and reads without migration. */
export const CONFIG_VERSION = 2;

/** Execution providers in order of preference; unavailable ones are skipped with a logged reason. */
export const ExecutionProvider = z.enum(['tensorrt', 'cuda', 'cpu']);
export type ExecutionProvider = z.infer<typeof ExecutionProvider>;

/** MQTT site and device names become topic levels, so they exclude `/`, `+`, `#` and spaces. */
const TOPIC_NAME = /^[A-Za-z0-9_-]+$/;

/** The device name defaults to the host name with characters outside TOPIC_NAME replaced. */
export const DEFAULT_DEVICE_NAME = hostname().replace(/[^A-Za-z0-9_-]/g, '-');

const filePath = (what: string, example: string) =>
  optionalSetting(z.string().min(1), what, example);

const TensorRtSchema = z.strictObject({
  deviceId: setting(z.number().int().min(0), 0, 'CUDA device that TensorRT runs on.'),
  fp16: setting(
    z.boolean(),
    false,
    'Let TensorRT build FP16 kernels (trt_fp16_enable); off by default because FP16 can move ' +
      "outputs past the bundle's test-vector tolerance.",
  ),
  engineCacheDir: setting(
    z.string().min(1).nullable(),
    null,
    'Folder where TensorRT keeps built engines between starts (trt_engine_cache_path); ' +
      'null: no cache, so every start rebuilds them.',
  ),
});

const CudaSchema = z.strictObject({
  deviceId: setting(z.number().int().min(0), 0, 'CUDA device of the CUDA provider.'),
});

const MqttTlsSchema = z
  .strictObject({
    caFile: filePath(
      'PEM file of the CA that signed the broker certificate.',
      '/etc/bv-edge/ca.pem',
    ),
    certFile: filePath(
      'PEM client certificate, for brokers that require one.',
      '/etc/bv-edge/client.pem',
    ),
    keyFile: filePath(
      'PEM private key of the client certificate; keep it mode 0600.',
      '/etc/bv-edge/client.key',
    ),
    rejectUnauthorized: setting(
      z.boolean(),
      true,
      'Reject a broker certificate that the CA does not verify.',
    ),
  })
  .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
    message: 'certFile and keyFile go together: set both or neither',
    path: ['keyFile'],
  });

const MqttOutboxSchema = z.strictObject({
  maxRows: setting(
    z.number().int().positive(),
    100_000,
    'Messages the outbox holds before it drops telemetry, then events, oldest first; ' +
      'estimates and training records are never dropped, and past this the outbox is flagged full.',
  ),
  maxBytes: setting(
    z.number().int().positive(),
    268_435_456,
    'Payload bytes the outbox holds (256 MiB by default), with the same policy as maxRows, bytes.',
  ),
  maxAgeDays: setting(
    z.number().positive(),
    7,
    'Age after which queued telemetry and events are dropped, days; estimates and training ' +
      'records are kept however old.',
  ),
  inflightWindow: setting(
    z.number().int().min(1).max(20),
    8,
    'Messages published but not yet acknowledged by the broker, at most; 20 is the receive ' +
      'maximum that mosquitto 2 grants by default.',
  ),
});

const MqttSchema = z
  .strictObject({
    url: setting(
      z
        .string()
        .regex(/^(mqtts?|wss?|tcp|ssl):\/\/\S+$/, 'expected mqtt://, mqtts://, ws:// or wss://'),
      'mqtt://127.0.0.1:1883',
      'Broker URL; mqtts:// and wss:// use TLS.',
    ),
    site: setting(z.string().regex(TOPIC_NAME), 'site', 'Site name, a level of every topic.'),
    device: setting(
      z.string().regex(TOPIC_NAME),
      DEFAULT_DEVICE_NAME,
      'Device name, a level of every topic.',
      { defaultText: 'this host name', example: 'cart-1' },
    ),
    username: optionalSetting(z.string().min(1), 'Broker user name.', 'cart-1'),
    passwordFile: filePath(
      'File whose content is the broker password; keep it mode 0600.',
      '/etc/bv-edge/mqtt-password',
    ),
    tls: section(MqttTlsSchema, 'TLS files for mqtts:// and wss:// brokers.'),
    topicBase: optionalSetting(
      z.string().regex(/^[^+#\0]+\/$/, 'expected levels without "+", "#" or NUL, ending with "/"'),
      'Prefix of every topic of this device, ending with "/"; left out, it is ' +
        'bv-edge/v1/<site>/<device>/.',
      'bv-edge/v1/site-a/cart-1/',
    ),
    protocolVersion: setting(
      z.literal([4, 5]),
      5,
      'MQTT protocol version: 5 falls back to 3.1.1 once when the broker rejects it; ' +
        '4 uses 3.1.1 only.',
    ),
    sessionExpirySeconds: setting(
      z.number().int().min(0).max(4_294_967_295),
      3600,
      'How long an MQTT 5 broker keeps the session (subscriptions, queued requests) after a ' +
        'disconnect, s.',
    ),
    outbox: section(MqttOutboxSchema, 'Bounds and sending window of the store-and-forward outbox.'),
    publishTimeoutMs: setting(
      z.number().int().positive().max(600_000),
      5000,
      'How long a one-shot scan waits for the broker, ms.',
    ),
  })
  .refine((mqtt) => mqtt.passwordFile === undefined || mqtt.username !== undefined, {
    message: 'passwordFile needs username',
    path: ['username'],
  });

const HttpSchema = z.strictObject({
  host: setting(
    z.string().min(1),
    '127.0.0.1',
    'Address of the status page and API; any other than loopback needs tokenFile.',
  ),
  port: setting(z.number().int().min(0).max(65535), 8080, 'TCP port; 0 picks a free one.'),
  tokenFile: filePath(
    'File whose content is the API bearer token; keep it mode 0600.',
    '/etc/bv-edge/api-token',
  ),
  language: setting(
    z.enum(PAGE_LANGUAGES),
    'zh-CN',
    'Language the touchscreen page starts in; the operator can switch it on the page.',
  ),
});

const WorkflowSchema = z.strictObject({
  recordSeconds: setting(
    z.number().min(1).max(60),
    6,
    'Recording length of one view, s; 6 s covers a full breath at 10 breaths per minute or more.',
  ),
  requiredViews: setting(
    z
      .array(z.enum(VIEW_NAMES))
      .min(1)
      .refine((views) => new Set(views).size === views.length, 'views must not repeat'),
    [...VIEW_NAMES],
    'Views that a case needs before the estimate.',
  ),
});

// The clinical defaults are the constants of src/clinical, which give their sources.
const ClinicalSchema = z.strictObject({
  bloodVolumeMlPerKg: setting(
    z.number().min(ML_PER_KG_LIMITS.min).max(ML_PER_KG_LIMITS.max),
    DEFAULT_BLOOD_VOLUME_ML_PER_KG,
    'Blood volume per kg of body weight for the weight-based comparison, mL/kg.',
  ),
  anticoagulantMlPerBag: setting(
    z.number().min(ANH_LIMITS.anticoagulantMlPerBag.min).max(ANH_LIMITS.anticoagulantMlPerBag.max),
    DEFAULT_ANTICOAGULANT_ML_PER_BAG,
    'Anticoagulant already in each ANH collection bag (63 mL in a 450 mL CPD bag), mL.',
  ),
  minEquilibrationMinutes: setting(
    z.number().min(ANH_LIMITS.equilibrationMinutes.min).max(ANH_LIMITS.equilibrationMinutes.max),
    DEFAULT_MIN_EQUILIBRATION_MINUTES,
    'Minimum time from the end of ANH replacement to the second Hb sample, minutes.',
  ),
  hemoglobinUnit: setting(z.enum(HEMOGLOBIN_UNITS), 'g/dL', 'Hemoglobin unit shown and entered.'),
  heightUnit: setting(z.enum(HEIGHT_UNITS), 'cm', 'Height unit shown and entered.'),
  weightUnit: setting(z.enum(WEIGHT_UNITS), 'kg', 'Weight unit shown and entered.'),
});

/**
 * Settings of the daemon and of the one-shot commands. Each key has its default here and nowhere
 * else, and its description names the unit and the default.
 */
export const ConfigSchema = z
  .strictObject({
    version: setting(z.literal(CONFIG_VERSION), CONFIG_VERSION, 'Config file format version.'),
    dataDir: setting(
      z.string().min(1),
      resolve(repoRoot, 'var'),
      'Folder for the SQLite database and generated phantom clips.',
      { defaultText: 'var/ in the checkout', example: '/var/lib/bv-edge' },
    ),
    modelDir: setting(
      z.string().min(1),
      resolve(repoRoot, 'models/reference'),
      'Model bundle folder with manifest.json and its ONNX files.',
      {
        defaultText: 'models/reference/ in the checkout',
        example: '/opt/bv-edge/models/reference',
      },
    ),
    providers: setting(
      z.array(ExecutionProvider).min(1),
      ['tensorrt', 'cuda', 'cpu'],
      'onnxruntime execution providers to try, in order.',
    ),
    tensorrt: section(TensorRtSchema, 'TensorRT execution provider options.'),
    cuda: section(CudaSchema, 'CUDA execution provider options.'),
    mqtt: section(MqttSchema, 'MQTT broker connection and topic names.'),
    http: section(HttpSchema, 'Status page and API server.'),
    capture: section(CaptureSchema, 'Live video capture.'),
    workflow: section(WorkflowSchema, 'Scan workflow.'),
    clinical: section(ClinicalSchema, 'Clinical settings of the site.'),
    fleet: section(
      FleetSchema,
      'Fleet management over MQTT: status, telemetry, events and requests.',
    ),
    models: section(ModelsSchema, 'Model bundles delivered over the air.'),
    hl7: section(Hl7Schema, 'Push of estimates to the anesthesia information system (HL7 v2).'),
    storage: section(
      StorageSchema,
      'Care of the SQLite store: checkpoints, retention, disk-space floor, backups.',
    ),
  })
  .superRefine((config, context) => {
    if (isLoopback(config.http.host) || config.http.tokenFile !== undefined) return;
    context.addIssue({
      code: 'custom',
      path: ['http', 'tokenFile'],
      input: undefined,
      message:
        `required because http.host ${config.http.host} is not a loopback address, and ` +
        'without a token file the API would be open to the network',
    });
  });
export type Config = z.infer<typeof ConfigSchema>;
/** A config as it may be written: every key optional. */
export type ConfigInput = z.input<typeof ConfigSchema>;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
