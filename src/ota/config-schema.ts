import { z } from 'zod';

import { optionalSetting, setting } from '../config/describe.ts';
import { parsePublicKey } from './signing.ts';

const trustedKey = z.string().superRefine((text, context) => {
  try {
    parsePublicKey(text, 'models.trustedKeys');
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

/** The `models` section: model bundles delivered over the air. */
export const ModelsSchema = z.strictObject({
  trustedKeys: setting(
    z.array(trustedKey),
    [],
    'ed25519 public keys whose bundle signatures this device accepts, each as PEM or as the ' +
      'base64 of the raw 32-byte key (bv-edge model keygen prints both); empty: every bundle ' +
      'is rejected.',
  ),
  bundlesDir: setting(
    z.string().min(1).nullable(),
    null,
    'Folder of the installed bundles and their staging area; null: dataDir/models.',
  ),
  healthGateInferences: setting(
    z.number().int().min(1).max(1000),
    10,
    'Inferences after an activation that must be finite and in the plausible range before ' +
      'the bundle counts as healthy; one case with four views makes five.',
  ),
  minFreeMb: setting(
    z.number().int().min(0),
    256,
    'Free space that must remain in the bundles folder after an install, MiB.',
  ),
  maxBundleMb: setting(
    z.number().int().min(1).max(8192),
    1024,
    'Largest bundle archive accepted, and the limit of its unpacked size, MiB.',
  ),
  downloadCaFile: optionalSetting(
    z.string().min(1),
    'PEM file of a CA trusted for HTTPS bundle downloads, besides the system CAs.',
    '/etc/bv-edge/models-ca.pem',
  ),
  downloadTimeoutS: setting(
    z.number().int().min(1).max(3600),
    300,
    'Time limit of one HTTPS bundle download, s.',
  ),
});
export type ModelsConfig = z.infer<typeof ModelsSchema>;
