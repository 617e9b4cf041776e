import { fillTemplate, type Notice, type NoticeParams } from '../core/notice.ts';
import { CAPTURE_NOTICES } from './capture.ts';
import { CLINICAL_NOTICES } from './clinical.ts';
import { COMMON_NOTICES } from './common.ts';
import { OPS_NOTICES } from './ops.ts';
import { REQUEST_NOTICES } from './request.ts';
import { WORKFLOW_NOTICES } from './workflow.ts';

/**
 * The notice catalogues: each sentence the daemon writes for a person, by key, in every page
 * language. Each subsystem keeps its notices in its own file with the prefix `notice.<area>.`.
 * The page catalogues (src/http/messages.ts) include these, and a test checks that every
 * language has every key.
 */
export const NOTICES = {
  en: {
    ...COMMON_NOTICES.en,
    ...REQUEST_NOTICES.en,
    ...CLINICAL_NOTICES.en,
    ...WORKFLOW_NOTICES.en,
    ...CAPTURE_NOTICES.en,
    ...OPS_NOTICES.en,
  },
  'zh-CN': {
    ...COMMON_NOTICES['zh-CN'],
    ...REQUEST_NOTICES['zh-CN'],
    ...CLINICAL_NOTICES['zh-CN'],
    ...WORKFLOW_NOTICES['zh-CN'],
    ...CAPTURE_NOTICES['zh-CN'],
    ...OPS_NOTICES['zh-CN'],
  },
};

export type NoticeKey = keyof typeof NOTICES.en;

/** Builds the notice `key` with `params`, and its English text. */
export function notice(key: NoticeKey, params: NoticeParams = {}): Notice {
  const english: Readonly<Record<string, string>> = NOTICES.en;
  return { key, params, text: fillTemplate(english[key] ?? key, params, (name) => english[name]) };
}

const NOTICES_BY_MESSAGE = new Map<string, Notice>();

/**
 * Returns the English text of a notice as a validation message (a zod `message` or `error`), and
 * remembers the notice, so that the API's field error for that message carries it as well.
 * NOTE: notices are found by their English text, so two keys whose texts are equal for the same
 * values would share one notice. Keep the English texts of validation notices distinct.
 */
export function noticeMessage(key: NoticeKey, params: NoticeParams = {}): string {
  const built = notice(key, params);
  NOTICES_BY_MESSAGE.set(built.text, built);
  return built.text;
}

/** Returns the notice whose text `noticeMessage` returned, if any. */
export function noticeOfMessage(message: string): Notice | undefined {
  return NOTICES_BY_MESSAGE.get(message);
}
