/**
 * Notices of the capture subsystem (src/capture): the reason for a capture state other than
 * live, and the errors of a phantom clip switch. `{detail}` is text that bv-edge cannot
 * translate, such as GStreamer's error message or the output of the capture process.
 */
const EN = {
  'notice.capture.clipSwitchTimeout':
    'The phantom clip of the {view:notice.vessel} view did not play within {seconds} s ' +
    '(capture is {state:capture.state}). Wait until the status shows a live image, then record ' +
    'again.',
  'notice.capture.clipUnusable':
    'The phantom clip {path} cannot be used ({detail}). Remove {path}; bv-edge generates the ' +
    'clip again at the next recording.',

  'notice.capture.notStarted': 'not started',
  'notice.capture.waitingForFrame': 'waiting for the first frame',
  'notice.capture.stopped': 'stopped',
  'notice.capture.frozen': 'the image has not changed for {seconds} s',
  'notice.capture.blank': 'the frames are uniform, with no ultrasound image',
  'notice.capture.noFrame': 'no frame for {seconds} s',
  'notice.capture.fileEnded': 'the video file ended and capture.source.loop is false',

  'notice.capture.deviceNotFound':
    'Video device {device} not found. Check that the capture card is connected and that ' +
    'capture.source.device names it (ls /dev/video*).',
  'notice.capture.fileNotFound': 'Video file {path} not found. Check capture.source.path.',
  'notice.capture.fileRemoved':
    'Video file {path} not found; it was removed while it played. Put it back or change ' +
    'capture.source.path.',
  'notice.capture.fileUnplayable':
    '{detail}, reading {path}. Check that capture.source.path names a complete, playable video ' +
    'file',
  'notice.capture.phantomClipDamaged':
    '{detail}, reading the phantom clip {path}. The clip is damaged; restart bv-edge and it ' +
    'checks the clips and generates damaged ones again',
  'notice.capture.streamEnded': 'The source ended its stream (end of stream)',
  'notice.capture.pipelineInvalid': 'Invalid pipeline "{launch}": {detail}',
  'notice.capture.pipelineError': '{detail}',
  'notice.capture.processFailed': '{detail}',
  'notice.capture.startTimeout':
    'The capture process did not start its pipeline within {seconds} s',
  'notice.capture.processHung':
    'The capture process sent no heartbeat for {seconds} s and was killed',
  'notice.capture.stalled': 'No frame for {seconds} s',
  'notice.capture.processExited': 'The capture process exited with code {code}',
  'notice.capture.processExitedOutput': 'The capture process exited with code {code}: {detail}',
  'notice.capture.processKilled': 'The capture process was killed by {signal}',
  'notice.capture.processKilledOutput': 'The capture process was killed by {signal}: {detail}',
} as const;

const ZH_CN: Record<keyof typeof EN, string> = {
  'notice.capture.clipSwitchTimeout':
    '{view:notice.vessel}切面的体模视频在 {seconds} s 内未能播放（采集状态：{state:capture.state}）。' +
    '请等待状态显示实时图像后重新录制。',
  'notice.capture.clipUnusable':
    '体模视频 {path} 无法使用（{detail}）。请删除 {path}；bv-edge 会在下次录制时重新生成该视频。',

  'notice.capture.notStarted': '尚未启动',
  'notice.capture.waitingForFrame': '正在等待第一帧图像',
  'notice.capture.stopped': '已停止',
  'notice.capture.frozen': '图像已 {seconds} s 无变化',
  'notice.capture.blank': '画面为纯色，没有超声图像',
  'notice.capture.noFrame': '已 {seconds} s 未收到图像',
  'notice.capture.fileEnded': '视频文件已播放完毕，且 capture.source.loop 为 false',

  'notice.capture.deviceNotFound':
    '未找到视频设备 {device}。请检查采集卡是否已连接，以及 capture.source.device 是否指向该设备' +
    '（ls /dev/video*）。',
  'notice.capture.fileNotFound': '未找到视频文件 {path}。请检查 capture.source.path。',
  'notice.capture.fileRemoved':
    '未找到视频文件 {path}：该文件在播放时被删除。请放回该文件，或修改 capture.source.path。',
  'notice.capture.fileUnplayable':
    '读取 {path} 时出错：{detail}。请检查 capture.source.path 是否指向完整、可播放的视频文件。',
  'notice.capture.phantomClipDamaged':
    '读取体模视频 {path} 时出错：{detail}。该视频已损坏；请重启 bv-edge，它会检查视频并重新生成' +
    '损坏的视频。',
  'notice.capture.streamEnded': '视频源的数据流已结束',
  'notice.capture.pipelineInvalid': '采集管道“{launch}”无效：{detail}',
  'notice.capture.pipelineError': 'GStreamer 报错：{detail}',
  'notice.capture.processFailed': '采集进程出错：{detail}',
  'notice.capture.startTimeout': '采集进程未能在 {seconds} s 内启动采集管道',
  'notice.capture.processHung': '采集进程 {seconds} s 无心跳，已被终止',
  'notice.capture.stalled': '已 {seconds} s 未收到图像',
  'notice.capture.processExited': '采集进程已退出，退出码 {code}',
  'notice.capture.processExitedOutput': '采集进程已退出，退出码 {code}：{detail}',
  'notice.capture.processKilled': '采集进程被信号 {signal} 终止',
  'notice.capture.processKilledOutput': '采集进程被信号 {signal} 终止：{detail}',
};

export const CAPTURE_NOTICES = { en: EN, 'zh-CN': ZH_CN };
