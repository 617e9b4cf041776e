export { createHttpApp, type HttpApp, type HttpAppOptions, type Readiness } from './app.ts';
export { DaemonMetrics } from './metrics.ts';
export { createStatusApp, serveStatus, toStatusResponse, type StatusServer } from './status.ts';
export type { Hl7State, Hl7Summary, StatusResponse, StatusSnapshot } from './types.ts';
