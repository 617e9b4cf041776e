export { createStatusApp, serveStatus, toStatusResponse, type StatusServer } from './status.ts';
export type { StatusResponse, StatusSnapshot } from './types.ts';
