import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { z } from 'zod';

import { BvEdgeError } from '../core/errors.ts';

/**
 * DER prefix of an ed25519 SubjectPublicKeyInfo (RFC 8410, section 4): the raw 32-byte key
 * follows it.
 */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const RAW_KEY_BYTES = 32;
/** Hex digits of the SHA-256 of the raw public key that form the key id. */
const KEY_ID_HEX_DIGITS = 16;

/** Contents of the signature file of a bundle archive. */
export const signatureSchema = z.strictObject({
  algorithm: z.literal('ed25519'),
  keyId: z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 lower-case hex digits'),
  /** ed25519 signature of the manifest.json bytes as stored in the archive, base64. */
  signature: z.string().min(1),
});
export type BundleSignature = z.infer<typeof signatureSchema>;

/** A public key that devices trust, with its id. */
export interface TrustedKey {
  keyId: string;
  key: KeyObject;
}

function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - RAW_KEY_BYTES);
}

/** Returns the key id: the first 16 hex digits of the SHA-256 of the raw 32-byte public key. */
export function keyIdOf(key: KeyObject): string {
  const hash = createHash('sha256').update(rawPublicKey(key)).digest('hex');
  return hash.slice(0, KEY_ID_HEX_DIGITS);
}

/** Returns the raw 32-byte public key as base64, the short form the config accepts. */
export function publicKeyBase64(key: KeyObject): string {
  return rawPublicKey(key).toString('base64');
}

/**
 * Parses an ed25519 public key given as PEM (SubjectPublicKeyInfo) or as the base64 of its raw
 * 32 bytes. `source` names where it came from in the error message.
 */
export function parsePublicKey(text: string, source: string): TrustedKey {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----BEGIN')) {
      key = createPublicKey(trimmed);
    } else {
      const raw = Buffer.from(trimmed, 'base64');
      if (raw.length !== RAW_KEY_BYTES || raw.toString('base64') !== trimmed) {
        throw new Error(`base64 decodes to ${raw.length} bytes, expected ${RAW_KEY_BYTES}`);
      }
      const der = Buffer.concat([ED25519_SPKI_PREFIX, raw]);
      key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    }
  } catch (cause) {
    throw new BvEdgeError(
      'public_key_invalid',
      `Invalid public key in ${source}: ${(cause as Error).message}. Give a PEM public key or ` +
        'the base64 of a raw 32-byte ed25519 key, as bv-edge model keygen prints.',
      { cause },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new BvEdgeError(
      'public_key_invalid',
      `Invalid public key in ${source}: found a ${key.asymmetricKeyType} key; expected ed25519.`,
    );
  }
  return { keyId: keyIdOf(key), key };
}

/** Parses an ed25519 private key in PEM (PKCS #8); `source` names the file. */
export function parsePrivateKey(pem: string, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw new BvEdgeError(
      'private_key_invalid',
      `Invalid private key ${source}: ${(cause as Error).message}. Give the PEM file that ` +
        'bv-edge model keygen wrote.',
      { cause },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new BvEdgeError(
      'private_key_invalid',
      `Invalid private key ${source}: found a ${key.asymmetricKeyType} key; expected ed25519.`,
    );
  }
  return key;
}

/** Generates an ed25519 key pair as PEM text. */
export function generateSigningKey(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** Signs the manifest bytes with `privateKey`. */
export function signManifest(manifest: Uint8Array, privateKey: KeyObject): BundleSignature {
  return {
    algorithm: 'ed25519',
    keyId: keyIdOf(createPublicKey(privateKey)),
    signature: sign(null, manifest, privateKey).toString('base64'),
  };
}

/**
 * Checks `signature` over the manifest bytes against the trusted keys. Throws BvEdgeError
 * `signature_unknown_key` when no trusted key has its key id, and `signature_invalid` when the
 * signature does not verify.
 */
export function verifyManifest(
  manifest: Uint8Array,
  signature: BundleSignature,
  trusted: readonly TrustedKey[],
): TrustedKey {
  const key = trusted.find((candidate) => candidate.keyId === signature.keyId);
  if (!key) {
    const known = trusted.map((candidate) => candidate.keyId).join(', ') || 'none';
    throw new BvEdgeError(
      'signature_unknown_key',
      `The bundle is signed with key ${signature.keyId}, which this device does not trust ` +
        `(trusted: ${known}). Sign it with a trusted key or add its public key to ` +
        'models.trustedKeys.',
      { value: signature.keyId },
    );
  }
  const bytes = Buffer.from(signature.signature, 'base64');
  if (!verify(null, manifest, key.key, bytes)) {
    throw new BvEdgeError(
      'signature_invalid',
      `The bundle signature does not verify with key ${key.keyId}: the manifest was changed ` +
        'after signing or the signature is corrupt. Sign the bundle again.',
      { value: key.keyId },
    );
  }
  return key;
}
