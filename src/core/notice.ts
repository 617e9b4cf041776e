/**
 * A sentence for a person that every reader can show in its own language. `key` names the
 * sentence in the notice catalogues (src/notices), `params` contains its values, and `text` is the
 * English sentence, for logs, the command line, MQTT and HL7. The page ignores `text` and renders
 * the sentence for its language from `key` and `params`.
 */
export interface Notice {
  key: string;
  params: NoticeParams;
  text: string;
}

/** Values of a notice. Numbers stay numbers, so that the page formats them for its locale. */
export type NoticeParams = Readonly<Record<string, string | number>>;

/** Key of a notice made from an English sentence alone, with the template "{text}". */
export const PLAIN_NOTICE_KEY = 'notice.plain';

export function plainNotice(text: string): Notice {
  return { key: PLAIN_NOTICE_KEY, params: { text }, text };
}

/**
 * Reads a notice stored as JSON. Rows written before notices existed hold the English sentence
 * alone, which becomes a plain notice.
 */
export function readNotice(value: unknown): Notice | undefined {
  if (typeof value === 'string') return plainNotice(value);
  if (typeof value !== 'object' || value === null) return undefined;
  const { key, params, text } = value as Partial<Notice>;
  if (typeof key !== 'string' || typeof text !== 'string') return undefined;
  if (typeof params !== 'object' || params === null) return undefined;
  const valid = Object.values(params).every(
    (param) => typeof param === 'string' || typeof param === 'number',
  );
  return valid ? { key, params, text } : undefined;
}

/**
 * Fills a template: `{name}` takes the value of `name`, and `{name:prefix}` takes the text of
 * the catalogue key `prefix.<value>`, found through `lookup` (e.g. `{view:view.name}` names a view).
 * `format` turns numbers into text. A value missing from `params` leaves an empty string.
 */
export function fillTemplate(
  template: string,
  params: NoticeParams,
  lookup: (key: string) => string | undefined,
  format: (value: number) => string = String,
): string {
  return template.replace(/\{(\w+)(?::([\w.-]+))?\}/g, (_, name: string, prefix?: string) => {
    const value = params[name];
    if (value === undefined) return '';
    if (prefix !== undefined) return lookup(`${prefix}.${value}`) ?? String(value);
    return typeof value === 'number' ? format(value) : value;
  });
}
