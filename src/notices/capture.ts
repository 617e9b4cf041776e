/** Notices of the capture subsystem (src/capture). */
const EN = {
  'notice.capture.clipSwitchTimeout':
    'The phantom clip of the {view:notice.vessel} view did not play within {seconds} s ' +
    '(capture is {state:capture.state}). Wait until the status shows a live image, then record ' +
    'again.',
} as const;

const ZH_CN: Record<keyof typeof EN, string> = {
  'notice.capture.clipSwitchTimeout':
    '{view:notice.vessel}切面的体模视频在 {seconds} s 内未能播放（采集状态：{state:capture.state}）。' +
    '请等待状态显示实时图像后重新录制。',
};

export const CAPTURE_NOTICES = { en: EN, 'zh-CN': ZH_CN };
