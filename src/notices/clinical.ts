/** Notices of the clinical subsystem. */
const EN = {} as const;

const ZH_CN: Record<keyof typeof EN, string> = {};

export const CLINICAL_NOTICES = { en: EN, 'zh-CN': ZH_CN };
