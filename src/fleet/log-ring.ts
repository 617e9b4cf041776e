import { redact } from './redact.ts';

/** Longest log line kept, in characters; longer lines are cut and end with "…". */
const MAX_LINE_CHARS = 4000;

/**
 * The last lines of the daemon's log in memory, for `log-tail` requests. It is a pino
 * destination: pass it to pino.multistream beside the real one. Each JSON line is stored with
 * the values of secret and patient identifier keys (password, token, mrn, patientName, ...)
 * replaced by "[redacted]"; a line that is not JSON is stored as written.
 */
export class LogRing {
  private readonly buffer: string[] = [];
  private next = 0;
  private total = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LogRing capacity must be a positive integer, got ${capacity}`);
    }
  }

  /** Lines written since construction, including those the ring no longer holds. */
  get written(): number {
    return this.total;
  }

  /** Stores one or more newline-separated log lines. */
  write(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (line.trim() === '') continue;
      this.push(cleanLine(line));
    }
  }

  /** Returns the last `count` lines, oldest first. */
  tail(count: number): string[] {
    const held = Math.min(this.total, this.capacity);
    const take = Math.max(0, Math.min(count, held));
    const lines: string[] = [];
    for (let back = take; back >= 1; back -= 1) {
      lines.push(this.buffer[(this.next - back + this.capacity) % this.capacity]!);
    }
    return lines;
  }

  private push(line: string): void {
    this.buffer[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
    this.total += 1;
  }
}

function cleanLine(line: string): string {
  let text = line;
  if (line.startsWith('{')) {
    try {
      text = JSON.stringify(redact(JSON.parse(line), { patientKeys: true }));
    } catch {
      // Not JSON after all: kept as written.
    }
  }
  return text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS - 1)}…` : text;
}
