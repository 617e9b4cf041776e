// Live capture: the GStreamer pipeline in a supervised child process, the signal state and the
// ultrasound image area. decode.ts decodes whole files for the one-shot scan.
export { CaptureService, type CaptureServiceOptions, type CaptureStatus } from './service.ts';
export { buildWorkerPlan, gstLaunchDescription, type ResolvedSource } from './pipeline.ts';
export { chooseImageArea, detectImageArea } from './image-area.ts';
export { cropToImageArea } from './crop.ts';
export { decodeClip, type DecodeOptions } from './decode.ts';
export type { WorkerPlan, WorkerStats } from './worker-protocol.ts';
