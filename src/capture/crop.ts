import { BvEdgeError } from '../core/errors.ts';
import { isRectInFrame, type Frame, type Rect } from '../core/image.ts';

/**
 * Copies the pixels of `area` out of `frame`. Apply it before a frame is stored, sent or shown,
 * so that the burned-in patient name, date and hospital around the image area stay out.
 * Throws `image_area_invalid` when `area` is not inside the frame.
 */
export function cropToImageArea(frame: Frame, area: Rect): Frame {
  const inside = isRectInFrame(area, frame.width, frame.height);
  if (!inside) {
    throw new BvEdgeError(
      'image_area_invalid',
      `Image area ${JSON.stringify(area)} is not inside the ${frame.width}x${frame.height} frame. ` +
        'Check capture.imageArea.',
      { value: area },
    );
  }
  const rowBytes = area.width * frame.channels;
  const data = new Uint8Array(rowBytes * area.height);
  for (let y = 0; y < area.height; y++) {
    const start = ((area.y + y) * frame.width + area.x) * frame.channels;
    data.set(frame.data.subarray(start, start + rowBytes), y * rowBytes);
  }
  return { width: area.width, height: area.height, channels: frame.channels, data };
}
