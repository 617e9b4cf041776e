/** Notices of the HTTP API about a request as a whole (src/http/problem.ts). */
const EN = {
  'notice.request.notJson': 'Send the request body as application/json.',
  'notice.request.badJson': 'The request body is not valid JSON.',
  'notice.request.diskFull':
    'The database could not be written because the disk of the data folder is full. Ask the ' +
    'biomedical engineer to free space on the cart, then try again.',
  'notice.request.unexpected': 'The request failed unexpectedly; see the daemon log.',
  'notice.field.unknownKey': 'Unrecognized key "{key}": remove it.',
} as const;

const ZH_CN: Record<keyof typeof EN, string> = {
  'notice.request.notJson': '请以 application/json 格式发送请求正文。',
  'notice.request.badJson': '请求正文不是有效的 JSON。',
  'notice.request.diskFull':
    '数据文件夹所在磁盘已满，无法写入数据库。请联系生物医学工程师清理设备空间后重试。',
  'notice.request.unexpected': '请求意外失败；请查看服务日志。',
  'notice.field.unknownKey': '不接受字段“{key}”：请删除。',
};

export const REQUEST_NOTICES = { en: EN, 'zh-CN': ZH_CN };
