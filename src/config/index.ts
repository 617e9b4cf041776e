// The daemon's configuration: one zod schema, loaded from defaults, a YAML or JSON file, the
// environment and command-line values, with migrations from older file versions.
export {
  CONFIG_VERSION,
  ConfigSchema,
  DEFAULT_DEVICE_NAME,
  ExecutionProvider,
  type Config,
  type ConfigInput,
} from './schema.ts';
export {
  CaptureSchema,
  CaptureSourceSchema,
  type CaptureConfig,
  type CaptureSource,
  type CaptureSourceInput,
} from './capture-schema.ts';
export {
  loadConfig,
  mergeConfig,
  readConfigFile,
  resolveConfig,
  type ConfigSources,
  type LoadedConfig,
} from './load.ts';
export { ENV_PREFIX, envVariableName, overridesFromEnv, type Environment } from './env.ts';
export { migrateConfig, type MigrationResult } from './migrate.ts';
export { configError, formatProblem, type ConfigProblem } from './problems.ts';
export { readSecrets, Secret, type Secrets } from './secrets.ts';
export { renderExampleConfig } from './document.ts';
