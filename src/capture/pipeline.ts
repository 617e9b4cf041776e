import type { CaptureSource } from '../config/index.ts';
import type { WorkerPlan } from './worker-protocol.ts';

/** A capture source after the phantom source has been resolved to its clip file. */
export type ResolvedSource = Exclude<CaptureSource, { kind: 'phantom' }>;

export interface PlanOptions {
  queueFrames: number;
  heartbeatMs: number;
}

/**
 * Buffers the appsink holds before it blocks the pipeline. The frame queue in the capture
 * process is where frames are dropped and counted, so the appsink never drops one itself.
 */
const APPSINK_MAX_BUFFERS = 2;

/** RTP caps of each UDP encoding, and the depayloader after the jitter buffer. */
const UDP_RTP: Record<'rtp-h264' | 'rtp-h265', { encoding: string; depayloader: string }> = {
  'rtp-h264': { encoding: 'H264', depayloader: 'rtph264depay' },
  'rtp-h265': { encoding: 'H265', depayloader: 'rtph265depay' },
};

/**
 * Builds the GStreamer pipeline of one source: the source part, then conversion to 8-bit grey and
 * the appsink. Paths, device nodes and URLs become element properties instead of launch text, so
 * that no value needs quoting.
 */
export function buildWorkerPlan(source: ResolvedSource, options: PlanOptions): WorkerPlan {
  const part = sourcePart(source);
  const realTime = source.kind !== 'file' || source.realTime;
  const sink =
    'videoconvert ! video/x-raw,format=GRAY8 ! ' +
    `appsink name=sink max-buffers=${APPSINK_MAX_BUFFERS} drop=false sync=${part.sync}`;
  return {
    launch: `${part.launch} ! ${sink}`,
    properties: part.properties,
    file: source.kind === 'file' ? source.path : null,
    device: source.kind === 'v4l2' ? source.device : null,
    loop: source.kind === 'file' && source.loop,
    realTime,
    queueFrames: options.queueFrames,
    heartbeatMs: options.heartbeatMs,
  };
}

interface SourcePart {
  launch: string;
  properties: WorkerPlan['properties'];
  /** appsink `sync`: true paces a file at its frame rate; live sources pace themselves. */
  sync: boolean;
}

function sourcePart(source: ResolvedSource): SourcePart {
  switch (source.kind) {
    case 'v4l2':
      return {
        launch: `v4l2src name=src ! ${v4l2Caps(source)}`,
        properties: [{ element: 'src', name: 'device', value: source.device }],
        sync: false,
      };
    case 'file':
      return {
        launch: 'filesrc name=src ! decodebin',
        properties: [{ element: 'src', name: 'location', value: source.path }],
        sync: source.realTime,
      };
    case 'rtsp':
      return {
        launch: `rtspsrc name=src latency=${source.latencyMs} protocols=${source.transport} ! decodebin`,
        properties: [{ element: 'src', name: 'location', value: source.url }],
        sync: false,
      };
    case 'udp':
      return { launch: udpLaunch(source), properties: [], sync: false };
    case 'test':
      return {
        launch:
          `videotestsrc name=src is-live=true pattern=${source.pattern} ! ` +
          `video/x-raw,width=${source.width},height=${source.height},framerate=${source.framerate}/1`,
        properties: [],
        sync: false,
      };
    case 'pipeline':
      return { launch: source.launch, properties: [], sync: false };
  }
}

/** Caps after v4l2src: JPEG frames are decoded, raw ones pass with the fields that are set. */
function v4l2Caps(source: Extract<ResolvedSource, { kind: 'v4l2' }>): string {
  const fields = [
    source.width !== undefined ? `width=${source.width}` : null,
    source.height !== undefined ? `height=${source.height}` : null,
    source.framerate !== undefined ? `framerate=${source.framerate}/1` : null,
  ].filter((field): field is string => field !== null);
  if (source.format === 'MJPG') return [`image/jpeg`, ...fields].join(',') + ' ! jpegdec';
  const format = source.format !== undefined ? [`format=${source.format}`] : [];
  return ['video/x-raw', ...format, ...fields].join(',');
}

function udpLaunch(source: Extract<ResolvedSource, { kind: 'udp' }>): string {
  const listen = `udpsrc name=src address=${source.address} port=${source.port}`;
  if (source.encoding === 'mpegts') {
    return `${listen} caps="video/mpegts,systemstream=(boolean)true,packetsize=(int)188" ! decodebin`;
  }
  const rtp = UDP_RTP[source.encoding];
  const caps =
    'application/x-rtp,media=(string)video,clock-rate=(int)90000,' +
    `encoding-name=(string)${rtp.encoding}`;
  return (
    `${listen} caps="${caps}" ! rtpjitterbuffer latency=${source.latencyMs} ! ` +
    `${rtp.depayloader} ! decodebin`
  );
}

/**
 * Returns the gst-launch-1.0 argument of the same pipeline with a fakesink in place of the
 * appsink and the properties written inline, for comparing against plain GStreamer.
 */
export function gstLaunchDescription(plan: WorkerPlan): string {
  let launch = plan.launch.replace(/appsink name=sink [^!]*$/, (sink) =>
    sink.replace(/^appsink name=sink max-buffers=\d+ drop=\w+/, 'fakesink'),
  );
  for (const property of plan.properties) {
    const value = `${property.name}="${property.value.replace(/(["\\])/g, '\\$1')}"`;
    launch = launch.replace(`name=${property.element} `, `name=${property.element} ${value} `);
  }
  return launch;
}
