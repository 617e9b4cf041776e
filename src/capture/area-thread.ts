/**
 * The image-area thread: runs detectImageArea, which takes 100–300 ms on a 640x480 clip, away
 * from the daemon's event loop so that frames keep flowing while it runs.
 */
import { parentPort } from 'node:worker_threads';
import type { Clip, Rect } from '../core/image.ts';
import { detectImageArea } from './image-area.ts';

export interface AreaRequest {
  id: number;
  clip: Clip;
}

export interface AreaResponse {
  id: number;
  area: Rect | null;
  error: string | null;
}

const port = parentPort;
if (!port) throw new Error('src/capture/area-thread.ts must run in a worker thread');

port.on('message', (request: AreaRequest) => {
  let response: AreaResponse;
  try {
    response = { id: request.id, area: detectImageArea(request.clip), error: null };
  } catch (error) {
    response = { id: request.id, area: null, error: (error as Error).message };
  }
  port.postMessage(response);
});
