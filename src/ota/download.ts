import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { get } from 'node:https';
import { rootCertificates } from 'node:tls';

import { BvEdgeError } from '../core/errors.ts';

export interface DownloadOptions {
  /** Expected SHA-256 of the archive, hex. */
  sha256: string;
  /** Largest archive accepted, bytes. */
  maxBytes: number;
  timeoutMs: number;
  /** PEM file of an extra CA to trust besides the system CAs. */
  caFile?: string;
}

function failed(url: string, reason: string, cause?: unknown): BvEdgeError {
  return new BvEdgeError('download_failed', `Download of ${url} failed: ${reason}`, {
    value: url,
    cause,
  });
}

function parseHttpsUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new BvEdgeError(
      'download_url_invalid',
      'Invalid bundle URL: it is not an absolute URL such as https://host/bundle.tar.gz.',
      { cause },
    );
  }
  if (url.protocol !== 'https:') {
    throw new BvEdgeError(
      'download_url_invalid',
      `Invalid bundle URL ${url.origin}${url.pathname}: only https:// is accepted, so that ` +
        'the server is authenticated. Serve the archive over HTTPS or send it in chunks over MQTT.',
      { value: url.protocol },
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new BvEdgeError(
      'download_url_invalid',
      'Invalid bundle URL: it contains a user name or password. Use a URL without credentials.',
    );
  }
  return url;
}

/**
 * Downloads a bundle archive over HTTPS, verifying the server against the system CAs and
 * `caFile`, and checks its size and SHA-256. Redirects are not followed. Throws BvEdgeError
 * `download_failed`, `archive_too_large` or `archive_checksum_mismatch`.
 */
export async function downloadArchive(text: string, options: DownloadOptions): Promise<Buffer> {
  const url = parseHttpsUrl(text);
  // Messages name the URL without its query, which may carry an access token.
  const shown = `${url.origin}${url.pathname}`;
  const ca = options.caFile
    ? [...rootCertificates, await readFile(options.caFile, 'utf8')]
    : undefined;
  const archive = await new Promise<Buffer>((resolve, reject) => {
    const request = get(url, { ca, timeout: options.timeoutMs }, (response) => {
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        response.resume();
        const location = response.headers.location ? ` to ${response.headers.location}` : '';
        reject(failed(shown, `the server answered HTTP ${status}${location}; expected 200.`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          request.destroy();
          reject(
            new BvEdgeError(
              'archive_too_large',
              `The bundle at ${shown} is larger than ${options.maxBytes} bytes, the limit ` +
                'set by models.maxBundleMb.',
              { value: shown },
            ),
          );
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => resolve(Buffer.concat(chunks)));
      response.on('error', (error) => reject(failed(shown, error.message, error)));
    });
    request.on('timeout', () => {
      request.destroy(failed(shown, `timed out after ${options.timeoutMs} ms.`));
    });
    request.on('error', (error) =>
      reject(error instanceof BvEdgeError ? error : failed(shown, error.message, error)),
    );
  });
  const found = createHash('sha256').update(archive).digest('hex');
  if (found !== options.sha256) {
    throw new BvEdgeError(
      'archive_checksum_mismatch',
      `The archive downloaded from ${shown} has sha256 ${found}; expected ${options.sha256}. ` +
        'Check the URL and the checksum in the request.',
      { value: { found, expected: options.sha256 } },
    );
  }
  return archive;
}
