// A minimal reader and writer of POSIX ustar archives (POSIX.1-2001, "pax" interchange format
// without extended headers) that contain flat folders of regular files: a model bundle. GNU tar
// and bsdtar list and extract what writeTar produces.
import { BvEdgeError } from '../core/errors.ts';

const BLOCK = 512;
/** Maximum name length in bytes of the ustar name field, without the prefix field. */
const MAX_NAME_BYTES = 100;
/** Largest file the 11 octal digits of the size field can describe, bytes (8 GiB − 1). */
const MAX_FILE_BYTES = 8 ** 11 - 1;

/** One regular file of an archive. */
export interface TarEntry {
  name: string;
  data: Uint8Array;
}

/**
 * A file name that may appear in a bundle archive: no folders, no `..`, no leading dot, so
 * extracting it can never write outside the target folder.
 */
export const PLAIN_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

function writeString(header: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > length) throw new Error(`tar field "${text}" exceeds ${length} bytes`);
  header.set(bytes, offset);
}

function writeOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  // length − 1 octal digits, then NUL, as POSIX specifies for numeric fields.
  writeString(header, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function checksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum;
}

function entryHeader(entry: TarEntry): Uint8Array {
  const header = new Uint8Array(BLOCK);
  writeString(header, 0, MAX_NAME_BYTES, entry.name);
  writeOctal(header, 100, 8, 0o644);
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeOctal(header, 124, 12, entry.data.length);
  // mtime 0 keeps the archive a function of its files, so packing twice gives the same bytes.
  writeOctal(header, 136, 12, 0);
  header[156] = 0x30; // typeflag '0': regular file
  writeString(header, 257, 6, 'ustar\0');
  writeString(header, 263, 2, '00');
  writeString(header, 148, 8, `${checksum(header).toString(8).padStart(6, '0')}\0 `);
  return header;
}

/** Writes `entries` as an uncompressed ustar archive. Names must match PLAIN_NAME. */
export function writeTar(entries: readonly TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    if (!PLAIN_NAME.test(entry.name) || new TextEncoder().encode(entry.name).length > 100) {
      throw new BvEdgeError(
        'archive_name_invalid',
        `Cannot pack file "${entry.name}": bundle files need a plain name of at most 100 bytes ` +
          '(letters, digits, ".", "_", "-"; no folders and no leading dot). Rename the file.',
        { value: entry.name },
      );
    }
    if (entry.data.length > MAX_FILE_BYTES) {
      throw new BvEdgeError('archive_file_too_large', `Cannot pack ${entry.name}: over 8 GiB.`);
    }
    parts.push(entryHeader(entry), entry.data);
    const padding = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
    if (padding > 0) parts.push(new Uint8Array(padding));
  }
  parts.push(new Uint8Array(2 * BLOCK));
  return Buffer.concat(parts);
}

function invalid(message: string, value?: unknown): BvEdgeError {
  return new BvEdgeError('archive_invalid', `Invalid bundle archive: ${message}`, { value });
}

function readString(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

function readOctal(block: Uint8Array, offset: number, length: number, field: string): number {
  const text = readString(block, offset, length).trim();
  if (!/^[0-7]+$/.test(text)) throw invalid(`header field ${field} "${text}" is not octal.`);
  return parseInt(text, 8);
}

function entryName(block: Uint8Array): string {
  const prefix = readString(block, 345, 155);
  const name = readString(block, 0, MAX_NAME_BYTES);
  return prefix ? `${prefix}/${name}` : name;
}

function checkName(name: string, seen: Set<string>): void {
  if (!PLAIN_NAME.test(name)) {
    throw invalid(
      `entry "${name}" is not a plain file name; a bundle archive contains only files at its top ` +
        'level, so folders, "..", absolute paths and hidden files are rejected (path traversal).',
      name,
    );
  }
  if (seen.has(name)) throw invalid(`entry "${name}" appears twice.`, name);
  seen.add(name);
}

/**
 * Reads a ustar archive of regular files at the top level. Rejects, with BvEdgeError
 * `archive_invalid`, a bad header checksum, data that ends early, any entry that is not a
 * regular file (folder, link, device, extended header) and any name that is not plain.
 */
export function readTar(bytes: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  let offset = 0;
  while (offset + BLOCK <= bytes.length) {
    const block = bytes.subarray(offset, offset + BLOCK);
    if (block.every((byte) => byte === 0)) return entries;
    const stored = readOctal(block, 148, 8, 'checksum');
    if (stored !== checksum(block)) {
      throw invalid(
        `header checksum of the entry at byte ${offset} does not match; it is corrupt.`,
      );
    }
    const name = entryName(block);
    const type = String.fromCharCode(block[156]!);
    if (type !== '0' && type !== '\0') {
      throw invalid(
        `entry "${name}" is ${describeEntryType(type)}; only regular files are accepted.`,
        name,
      );
    }
    checkName(name, seen);
    const size = readOctal(block, 124, 12, 'size');
    const start = offset + BLOCK;
    if (start + size > bytes.length) {
      throw invalid(
        `entry "${name}" declares ${size} bytes but the archive ends after ` +
          `${bytes.length - start}; it is truncated.`,
        name,
      );
    }
    entries.push({ name, data: bytes.slice(start, start + size) });
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw invalid('it ends without the two zero blocks that close a tar archive; it is truncated.');
}

/** Names of the tar entry types other than a regular file, from the POSIX ustar typeflag field. */
const ENTRY_TYPES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '5': 'a directory',
  '6': 'a FIFO',
  '7': 'a contiguous file',
  g: 'a pax global header',
  x: 'a pax extended header',
  L: 'a GNU long name header',
  K: 'a GNU long link header',
};

function describeEntryType(type: string): string {
  return ENTRY_TYPES[type] ?? `of tar type ${JSON.stringify(type)}`;
}
