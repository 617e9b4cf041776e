/**
 * Seconds on the system's monotonic clock. process.hrtime reads CLOCK_MONOTONIC on Linux, which
 * every process on the machine shares, so the capture process and the daemon stamp frames on
 * the same clock.
 */
export function monotonicSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}
