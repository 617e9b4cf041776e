import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

/** Execution providers in order of preference; unavailable ones are skipped with a logged reason. */
export const ExecutionProvider = z.enum(['tensorrt', 'cuda', 'cpu']);
export type ExecutionProvider = z.infer<typeof ExecutionProvider>;

/**
 * Settings of the one-shot commands. Each key has its default here and nowhere else.
 */
export const ConfigSchema = z.object({
  dataDir: z
    .string()
    .default(resolve(repoRoot, 'var'))
    .describe('Folder for the SQLite database and generated phantom clips.'),
  modelDir: z
    .string()
    .default(resolve(repoRoot, 'models/reference'))
    .describe('Model bundle folder: manifest.json and its ONNX files.'),
  providers: z
    .array(ExecutionProvider)
    .min(1)
    .default(['tensorrt', 'cuda', 'cpu'])
    .describe('Execution providers to try, in order.'),
  mqtt: z
    .object({
      url: z.string().default('mqtt://127.0.0.1:1883').describe('Broker URL.'),
      site: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/)
        .default('site')
        .describe('Site name in the topic base.'),
      device: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/)
        .default(hostname().replace(/[^A-Za-z0-9_-]/g, '-'))
        .describe('Device name in the topic base; defaults to the host name.'),
      publishTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(5000)
        .describe('How long a one-shot scan waits for the broker, ms.'),
    })
    .prefault({}),
});
export type Config = z.infer<typeof ConfigSchema>;

/** Builds the config from defaults and BV_EDGE_* environment variables. */
export function loadConfig(overrides: Partial<z.input<typeof ConfigSchema>> = {}): Config {
  const env = process.env;
  const fromEnv: Record<string, unknown> = {};
  if (env.BV_EDGE_HOME) fromEnv.dataDir = env.BV_EDGE_HOME;
  if (env.BV_EDGE_MODEL_DIR) fromEnv.modelDir = env.BV_EDGE_MODEL_DIR;
  return ConfigSchema.parse({ ...fromEnv, ...overrides });
}
