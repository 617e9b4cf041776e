// Model bundles delivered over the air: signed archives, the bundle store, installs, activation
// between cases behind a health gate, and rollback.
export { packBundle, readArchive, signArchive, SIGNATURE_FILE } from './archive.ts';
export { BundleStore, type BundleSlot, type BundleState } from './bundle-store.ts';
export { ModelsSchema, type ModelsConfig } from './config-schema.ts';
export { checkCompatibility, daemonVersion } from './compat.ts';
export {
  activateParams,
  installParams,
  registerModelCommands,
  rollbackParams,
} from './commands.ts';
export { downloadArchive } from './download.ts';
export { ModelEvents, type ModelEventListener, type ModelEventType } from './events.ts';
export { HealthGate, type GateResult } from './health-gate.ts';
export { installArchive, type InstalledBundle } from './installer.ts';
export {
  ModelManager,
  type BundleInfo,
  type BundlesInfo,
  type EngineHost,
  type InstallOutcome,
  type ModelManagerOptions,
} from './manager.ts';
export { listInstalls, type InstallRecord } from './records.ts';
export {
  generateSigningKey,
  keyIdOf,
  parsePrivateKey,
  parsePublicKey,
  publicKeyBase64,
  type TrustedKey,
} from './signing.ts';
export { chunkSchema, ChunkReceiver, transferSchema } from './transfers.ts';
