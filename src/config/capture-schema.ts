import { z } from 'zod';
import { VIEW_NAMES } from '../core/image.ts';
import { optionalSetting, prefaultSetting, requiredSetting, section, setting } from './describe.ts';

/** GStreamer caps values that go into a launch line unquoted: letters, digits, `_` and `-`. */
const CAPS_TOKEN = /^[A-Za-z0-9_-]+$/;

const dimension = (label: string, example: number) =>
  optionalSetting(
    z.number().int().min(16).max(8192),
    `${label}, pixels. Left out: negotiated.`,
    example,
  );

const V4l2Source = z
  .strictObject({
    kind: z.literal('v4l2').describe('A video capture card or USB grabber through Video4Linux2.'),
    device: setting(z.string().startsWith('/dev/'), '/dev/video0', 'Device node of the card.'),
    format: optionalSetting(
      z.string().regex(CAPS_TOKEN),
      'Pixel format the card delivers, as GStreamer names it (YUY2, UYVY, NV12, GRAY8), or MJPG ' +
        'for cards that send JPEG frames. Left out: negotiated.',
      'YUY2',
    ),
    width: dimension('Frame width', 1920),
    height: dimension('Frame height', 1080),
    framerate: optionalSetting(
      z.number().int().min(1).max(240),
      'Frame rate, frames per second. Left out: negotiated.',
      30,
    ),
  })
  .describe('Capture card source.');

const FileSource = z
  .strictObject({
    kind: z.literal('file').describe('A video file (MP4, MOV, GIF or anything decodebin reads).'),
    path: requiredSetting(z.string().min(1), 'Path of the video file.', '/srv/bv-edge/clip.mp4'),
    loop: setting(z.boolean(), true, 'Play the file again from the start when it ends.'),
    realTime: setting(
      z.boolean(),
      true,
      'Deliver frames at the file frame rate, as a cart plays live video. false decodes as ' +
        'fast as the consumer takes frames and never drops one.',
    ),
  })
  .describe('Video file source, for demonstrations and tests.');

const RtspSource = z
  .strictObject({
    kind: z.literal('rtsp').describe('An RTSP stream, for scanners with a network video output.'),
    url: requiredSetting(
      z.string().regex(/^rtsps?:\/\/\S+$/, 'expected an rtsp:// or rtsps:// URL'),
      'Stream URL.',
      'rtsp://scanner.local:554/stream',
    ),
    latencyMs: setting(z.number().int().min(0).max(10_000), 200, 'Jitter buffer latency, ms.'),
    transport: setting(z.enum(['tcp', 'udp']), 'tcp', 'RTP transport that rtspsrc requests.'),
  })
  .describe('RTSP stream source.');

const UdpSource = z
  .strictObject({
    kind: z.literal('udp').describe('A stream that the scanner sends to this cart over UDP.'),
    address: setting(
      z.ipv4(),
      '127.0.0.1',
      'Local address to listen on; 0.0.0.0 receives on every interface, a multicast group ' +
        'joins that group.',
    ),
    port: requiredSetting(z.number().int().min(1).max(65535), 'UDP port.', 5000),
    encoding: setting(
      z.enum(['rtp-h264', 'rtp-h265', 'mpegts']),
      'rtp-h264',
      'Payload: H.264 or H.265 in RTP, or an MPEG transport stream.',
    ),
    latencyMs: setting(z.number().int().min(0).max(10_000), 200, 'Jitter buffer latency, ms.'),
  })
  .describe('UDP stream source.');

const TestSource = z
  .strictObject({
    kind: z.literal('test').describe('GStreamer videotestsrc, for checks without a scanner.'),
    pattern: setting(
      z.string().regex(CAPS_TOKEN),
      'snow',
      'videotestsrc pattern. snow changes every frame (live), ball is a small ball on black ' +
        '(blank) and smpte is a still image (frozen).',
    ),
    width: setting(z.number().int().min(16).max(8192), 640, 'Frame width, pixels.'),
    height: setting(z.number().int().min(16).max(8192), 480, 'Frame height, pixels.'),
    framerate: setting(z.number().int().min(1).max(240), 30, 'Frame rate, frames per second.'),
  })
  .describe('Test pattern source.');

const PhantomSource = z
  .strictObject({
    kind: z
      .literal('phantom')
      .describe('Synthetic B-mode clips of one phantom patient, generated under dataDir/phantom.'),
    view: setting(
      z.enum([...VIEW_NAMES, 'follow']),
      'follow',
      'Vessel view whose clip is played. "follow" plays the clip of the view being recorded, ' +
        'switching clips before each recording; a fixed view plays its clip for every view, ' +
        'and only the pulsing carotid clip passes the quality check of every view.',
    ),
    loop: setting(z.boolean(), true, 'Play the clip again from the start when it ends.'),
    realTime: setting(z.boolean(), true, 'Deliver frames at the clip frame rate.'),
  })
  .describe('Phantom clip source, for demonstrations.');

const PipelineSource = z
  .strictObject({
    kind: z.literal('pipeline').describe('A gst-launch description, for hardware decoders.'),
    launch: requiredSetting(
      z
        .string()
        .min(1)
        .refine((text) => !/\bappsink\b/.test(text), {
          message: 'leave out the sink: bv-edge appends videoconvert and its own appsink',
        }),
      'Pipeline up to raw video in system memory; bv-edge appends videoconvert and its appsink.',
      'nvv4l2camerasrc ! nvvidconv ! video/x-raw,format=GRAY8',
    ),
  })
  .describe('Raw GStreamer pipeline source.');

/** The video input of live capture; `kind` selects the variant. */
export const CaptureSourceSchema = z.discriminatedUnion('kind', [
  V4l2Source,
  FileSource,
  RtspSource,
  UdpSource,
  TestSource,
  PhantomSource,
  PipelineSource,
]);
export type CaptureSource = z.infer<typeof CaptureSourceSchema>;
/** A capture source as a file may write it, with defaulted keys left out. */
export type CaptureSourceInput = z.input<typeof CaptureSourceSchema>;

const RectSchema = z.strictObject({
  x: z.number().int().min(0).describe('Left edge, pixels from the left of the frame.'),
  y: z.number().int().min(0).describe('Top edge, pixels from the top of the frame.'),
  width: z.number().int().min(1).describe('Width, pixels.'),
  height: z.number().int().min(1).describe('Height, pixels.'),
});

const RestartSchema = z.strictObject({
  initialDelayMs: setting(
    z.number().int().min(10).max(60_000),
    500,
    'Wait before the first restart after a pipeline error or a lost device, ms.',
  ),
  maxDelayMs: setting(
    z.number().int().min(10).max(600_000),
    30_000,
    'Cap of the restart wait, which doubles after each failed start, ms.',
  ),
});

export const CaptureSchema = z
  .strictObject({
    source: prefaultSetting(CaptureSourceSchema, { kind: 'v4l2' }, 'Video input.'),
    queueFrames: setting(
      z.number().int().min(1).max(120),
      4,
      'Frames the appsink holds for the daemon; when it is full the oldest frame is dropped ' +
        'and counted.',
    ),
    ringSeconds: setting(
      z.number().min(1).max(120),
      8,
      'Seconds of recent frames kept in memory (a 640x480 grey frame is 300 kB, so 8 s at 30 ' +
        'frames per second is 74 MB).',
    ),
    ringMaxMegabytes: setting(
      z.number().min(1).max(65_536),
      256,
      'Memory limit of the recent frames, MiB; the oldest frames go first when it is reached, ' +
        'so large frames shorten the seconds kept.',
    ),
    noSignalSeconds: setting(
      z.number().min(0.2).max(600),
      2,
      'Time without a frame after which the state is no-signal, s.',
    ),
    frozenSeconds: setting(
      z.number().min(0.2).max(600),
      2,
      'Window over which 90 % of consecutive frame pairs must be unchanged for the state to be ' +
        'frozen, s.',
    ),
    frozenThreshold: setting(
      z.number().min(0).max(255),
      0.05,
      'Mean absolute difference between consecutive frames at or below which they count as ' +
        'unchanged, grey levels. Live B-mode clips measured 0.07 to 3; raise it for analog ' +
        'capture whose noise changes every frame.',
    ),
    blankUniformShare: setting(
      z.number().gt(0).max(1),
      0.98,
      'Share of pixels within 4 grey levels of the median at or above which a frame is blank.',
    ),
    imageArea: setting(
      RectSchema.nullable(),
      null,
      'Ultrasound image area in source pixels, which replaces the automatic one; null: ' +
        'found from temporal variance.',
      { example: { x: 80, y: 40, width: 400, height: 300 } },
    ),
    imageAreaRefreshSeconds: setting(
      z.number().min(0.5).max(3600),
      5,
      'Interval between recomputations of the automatic image area while the image is live, s.',
    ),
    watchdogSeconds: setting(
      z.number().min(1).max(600),
      5,
      'Time without a heartbeat from the capture process after which it is killed and ' +
        'restarted, s.',
    ),
    stallSeconds: setting(
      z.number().min(1).max(3600),
      10,
      'Time without a frame after which the capture process is restarted, s.',
    ),
    restart: section(RestartSchema, 'Restart timing of the capture process.'),
  })
  .refine((capture) => capture.restart.maxDelayMs >= capture.restart.initialDelayMs, {
    message: 'restart.maxDelayMs must be at least restart.initialDelayMs',
    path: ['restart', 'maxDelayMs'],
  });
export type CaptureConfig = z.infer<typeof CaptureSchema>;
