/** Notices of the operations subsystem (src/ops). */
const EN = {
  'notice.ops.diskLow':
    'Cannot record the {view:notice.vessel} view: only {freeMb} MiB are free on the disk of ' +
    '{path}, below the floor of {floorMb} MiB (storage.minFreeMb). Ask the biomedical engineer ' +
    'to free space on the cart, then record again.',
} as const;

const ZH_CN: Record<keyof typeof EN, string> = {
  'notice.ops.diskLow':
    '无法录制{view:notice.vessel}切面：{path} 所在磁盘仅剩 {freeMb} MiB 可用空间，低于下限 ' +
    '{floorMb} MiB（storage.minFreeMb）。请联系生物医学工程师清理设备空间后重新录制。',
};

export const OPS_NOTICES = { en: EN, 'zh-CN': ZH_CN };
