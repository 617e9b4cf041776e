/**
 * Notices shared by every subsystem: the plain notice of a sentence stored before notices existed,
 * and the names that other notices put into their sentences.
 */
const EN = {
  'notice.plain': '{text}',
  'notice.vessel.ijv': 'IJV',
  'notice.vessel.scv': 'SCV',
  'notice.vessel.ivc': 'IVC',
  'notice.vessel.ca': 'carotid',
} as const;

const ZH_CN: Record<keyof typeof EN, string> = {
  'notice.plain': '{text}',
  'notice.vessel.ijv': '颈内静脉',
  'notice.vessel.scv': '锁骨下静脉',
  'notice.vessel.ivc': '下腔静脉',
  'notice.vessel.ca': '颈总动脉',
};

export const COMMON_NOTICES = { en: EN, 'zh-CN': ZH_CN };
