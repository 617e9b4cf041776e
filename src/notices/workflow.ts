/** Notices of the workflow subsystem. */
const EN = {} as const;

const ZH_CN: Record<keyof typeof EN, string> = {};

export const WORKFLOW_NOTICES = { en: EN, 'zh-CN': ZH_CN };
