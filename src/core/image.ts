/** One 8-bit frame, row-major; `channels` is 1 for grey and 3 for RGB. */
export interface Frame {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** A grey frame: one byte per pixel, row-major. */
export interface GrayFrame extends Frame {
  channels: 1;
}

export interface Point {
  x: number;
  y: number;
}

/** Axis-aligned rectangle in pixels; `x` and `y` are the top-left corner. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A decoded clip: frames in presentation order with their times in seconds from the first. */
export interface Clip {
  source: string;
  width: number;
  height: number;
  channels: 1 | 3;
  /** Nominal frame rate from the container, in frames per second. */
  fps: number;
  frames: Frame[];
  timestampsS: number[];
}

/** Whether `rect` has integer corners and lies inside a frame, each side at least `minSide`. */
export function isRectInFrame(rect: Rect, width: number, height: number, minSide = 1): boolean {
  return (
    Number.isInteger(rect.x) &&
    Number.isInteger(rect.y) &&
    Number.isInteger(rect.width) &&
    Number.isInteger(rect.height) &&
    rect.x >= 0 &&
    rect.y >= 0 &&
    rect.width >= minSide &&
    rect.height >= minSide &&
    rect.x + rect.width <= width &&
    rect.y + rect.height <= height
  );
}

export const VIEW_NAMES = ['ijv', 'scv', 'ivc', 'ca'] as const;
/** Internal jugular vein, subclavian vein, inferior vena cava, common carotid artery. */
export type ViewName = (typeof VIEW_NAMES)[number];

export function isViewName(value: string): value is ViewName {
  return (VIEW_NAMES as readonly string[]).includes(value);
}

/** Converts an RGB frame to grey with the ITU-R BT.601 luma weights; grey frames pass through. */
export function toGray(frame: Frame): GrayFrame {
  if (frame.channels === 1) return frame as GrayFrame;
  const pixels = frame.width * frame.height;
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const r = frame.data[i * 3]!;
    const g = frame.data[i * 3 + 1]!;
    const b = frame.data[i * 3 + 2]!;
    out[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  return { width: frame.width, height: frame.height, channels: 1, data: out };
}
