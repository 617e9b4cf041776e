/** Languages of the touchscreen page, as BCP 47 tags; each has a full message catalogue. */
export const PAGE_LANGUAGES = ['zh-CN', 'en'] as const;
export type PageLanguage = (typeof PAGE_LANGUAGES)[number];

export function isPageLanguage(value: string): value is PageLanguage {
  return (PAGE_LANGUAGES as readonly string[]).includes(value);
}
