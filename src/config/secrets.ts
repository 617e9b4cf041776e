import { readFile, stat } from 'node:fs/promises';
import { inspect } from 'node:util';
import { BvEdgeError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Config } from './schema.ts';

const HIDDEN = '[secret]';

/**
 * A secret read from a file. Logging, printing or serialising it shows `[secret]`; only
 * `reveal()` returns the text, for the client that sends it.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return HIDDEN;
  }

  toJSON(): string {
    return HIDDEN;
  }

  [inspect.custom](): string {
    return HIDDEN;
  }
}

export interface Secrets {
  mqttPassword: Secret | null;
  httpToken: Secret | null;
  /** PEM contents of the MQTT TLS files; the private key is a Secret. */
  mqttTls: { ca: string | null; cert: string | null; key: Secret | null };
}

interface SecretFile {
  /** Config key that names the file, for messages. */
  key: string;
  path: string | undefined;
  /** Whether the content must stay private (a password, token or key, not a certificate). */
  private: boolean;
  /** Minimum length in characters, for secrets that must resist guessing. */
  minLength?: number;
}

/**
 * Minimum length of the API bearer token, characters. 16 random hex digits carry 64 bits, too
 * many to guess online. `openssl rand -hex 16` writes 32 hex digits.
 */
export const MIN_API_TOKEN_LENGTH = 16;

function secretFiles(config: Config): SecretFile[] {
  return [
    { key: 'mqtt.passwordFile', path: config.mqtt.passwordFile, private: true },
    {
      key: 'http.tokenFile',
      path: config.http.tokenFile,
      private: true,
      minLength: MIN_API_TOKEN_LENGTH,
    },
    { key: 'mqtt.tls.caFile', path: config.mqtt.tls.caFile, private: false },
    { key: 'mqtt.tls.certFile', path: config.mqtt.tls.certFile, private: false },
    { key: 'mqtt.tls.keyFile', path: config.mqtt.tls.keyFile, private: true },
  ];
}

/**
 * Reads the password, token and TLS files that the config names. Throws `secret_file_invalid`
 * listing every file that is missing, unreadable or empty. A private file that other users can
 * read is logged as a warning with its mode and read anyway. File contents are never logged.
 */
export async function readSecrets(config: Config, logger: Logger): Promise<Secrets> {
  const contents = new Map<string, string>();
  const failures: string[] = [];
  for (const file of secretFiles(config)) {
    if (file.path === undefined) continue;
    try {
      contents.set(file.key, await readSecretFile(file, logger));
    } catch (cause) {
      failures.push(`${file.key} ${file.path}: ${(cause as Error).message}. ${fixHint(file)}`);
    }
  }
  if (failures.length > 0) {
    const what = failures.length === 1 ? 'a file' : 'files';
    throw new BvEdgeError(
      'secret_file_invalid',
      `Cannot read ${what} that the config names:\n  ${failures.join('\n  ')}`,
      { value: failures },
    );
  }
  const secret = (key: string): Secret | null => {
    const text = contents.get(key);
    return text === undefined ? null : new Secret(text);
  };
  return {
    mqttPassword: secret('mqtt.passwordFile'),
    httpToken: secret('http.tokenFile'),
    mqttTls: {
      ca: contents.get('mqtt.tls.caFile') ?? null,
      cert: contents.get('mqtt.tls.certFile') ?? null,
      key: secret('mqtt.tls.keyFile'),
    },
  };
}

/** Tells how to provide `file`: a secret alone in a private file, or a PEM certificate. */
function fixHint(file: SecretFile): string {
  if (file.private) {
    return 'Write the secret alone in that file and chmod 600 it, or remove the key from the config.';
  }
  return 'Put the PEM certificate at that path, or remove the key from the config.';
}

async function readSecretFile(file: SecretFile, logger: Logger): Promise<string> {
  const path = file.path!;
  let info;
  try {
    info = await stat(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? 'not found' : `unreadable (${code})`, { cause });
  }
  if (!info.isFile()) throw new Error('not a regular file');
  // Group or other permission bits on a password, token or key file.
  if (file.private && (info.mode & 0o077) !== 0) {
    logger.warn(
      { key: file.key, file: path, mode: (info.mode & 0o777).toString(8) },
      'secret file is readable by other users; chmod 600 it',
    );
  }
  // A trailing newline is how editors and `echo` end the file, never part of the secret.
  const text = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  if (text.length === 0) throw new Error('empty');
  if (file.minLength !== undefined && text.length < file.minLength) {
    throw new Error(
      `too short: the token has ${text.length} characters and needs at least ` +
        `${file.minLength}. Write a random one, e.g. \`openssl rand -hex 16 > ${path}\``,
    );
  }
  logger.debug({ key: file.key, file: path }, 'secret file read');
  return text;
}
