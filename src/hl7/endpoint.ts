import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';

import type { Hl7Config } from '../config/hl7-schema.ts';
import { BvEdgeError } from '../core/errors.ts';
import type { MllpEndpoint } from './mllp.ts';

/**
 * Builds the MLLP endpoint of an enabled hl7 section, reading the TLS files it names. Throws
 * BvEdgeError `hl7_config_invalid` without host or port and `hl7_tls_file_unreadable` naming the
 * key and path of a file that cannot be read.
 */
export function endpointFromConfig(config: Hl7Config): MllpEndpoint {
  if (config.host === undefined || config.port === undefined) {
    throw new BvEdgeError(
      'hl7_config_invalid',
      'hl7.host and hl7.port must be set to push estimates; set both or set hl7.enabled to false.',
    );
  }
  return {
    host: config.host,
    port: config.port,
    tls: config.tls.enabled ? tlsOptions(config.tls, config.host) : null,
    connectTimeoutMs: config.connectTimeoutMs,
    ackTimeoutMs: config.ackTimeoutMs,
  };
}

function tlsOptions(tls: Hl7Config['tls'], host: string): ConnectionOptions {
  const serverName = tls.serverName ?? (isIP(host) === 0 ? host : undefined);
  return {
    ...(tls.caFile !== undefined && { ca: readPem('hl7.tls.caFile', tls.caFile) }),
    ...(tls.certFile !== undefined && { cert: readPem('hl7.tls.certFile', tls.certFile) }),
    ...(tls.keyFile !== undefined && { key: readPem('hl7.tls.keyFile', tls.keyFile) }),
    ...(serverName !== undefined && { servername: serverName }),
    rejectUnauthorized: tls.rejectUnauthorized,
  };
}

function readPem(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new BvEdgeError(
      'hl7_tls_file_unreadable',
      `${key}: cannot read ${path} (${code}). Check the path and that this user may read it.`,
      { value: path, cause },
    );
  }
}
