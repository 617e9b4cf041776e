/**
 * Notices of the HTTP API about a request as a whole (src/http/problem.ts, src/http/app.ts,
 * src/http/auth.ts), and the generic notices of field errors that zod reports in its own words.
 */
const EN = {
  'notice.request.notJson': 'Send the request body as application/json.',
  'notice.request.badJson': 'The request body is not valid JSON.',
  'notice.request.diskFull':
    'The database could not be written because the disk of the data folder is full. Ask the ' +
    'biomedical engineer to free space on the cart, then try again.',
  'notice.request.unexpected': 'The request failed unexpectedly; see the daemon log.',
  'notice.request.invalidFields': 'Invalid fields: {fields}.',
  'notice.request.unauthorized':
    'This cart requires its API token: send it as "Authorization: Bearer <token>".',
  'notice.request.unsupportedMediaType':
    'Requests that change data must have the content type application/json, not {type}.',
  'notice.request.foreignHost':
    'Request for host {host} rejected: without an access token the cart answers only for ' +
    '127.0.0.1 or localhost. Open the page at http://127.0.0.1, or set http.tokenFile.',
  'notice.request.crossOrigin':
    'The request came from the page at {origin}, not from the page of this cart, so it is rejected.',
  'notice.field.unknownKey': 'Unrecognized key "{key}": remove it.',
  'notice.field.required': 'required',
  'notice.field.notObject': 'send a JSON object',
  'notice.field.expected': 'expected {type:notice.field.type}',
  'notice.field.type.number': 'a number',
  'notice.field.type.string': 'text',
  'notice.field.type.boolean': 'true or false',
  'notice.field.type.array': 'a list',
  'notice.field.type.object': 'an object',
  'notice.field.oneOf': 'expected one of {options}',
  'notice.field.textNotEmpty': 'expected at least 1 character',
  'notice.field.textMin': 'expected at least {min} characters',
  'notice.field.textMax': 'expected at most {max} characters',
  'notice.field.listNotEmpty': 'expected at least 1 item',
  'notice.field.listMin': 'expected at least {min} items',
  'notice.field.listMax': 'expected at most {max} items',
  'notice.field.atLeast': 'expected at least {limit}',
  'notice.field.above': 'expected more than {limit}',
  'notice.field.atMost': 'expected at most {limit}',
  'notice.field.below': 'expected less than {limit}',
  'notice.field.invalid': 'invalid value',
} as const;

const ZH_CN: Record<keyof typeof EN, string> = {
  'notice.request.notJson': '请以 application/json 格式发送请求正文。',
  'notice.request.badJson': '请求正文不是有效的 JSON。',
  'notice.request.diskFull':
    '数据文件夹所在磁盘已满，无法写入数据库。请联系生物医学工程师清理设备空间后重试。',
  'notice.request.unexpected': '请求意外失败；请查看服务日志。',
  'notice.request.invalidFields': '以下字段无效：{fields}。',
  'notice.request.unauthorized': '本设备需要 API 令牌：请以“Authorization: Bearer <token>”发送。',
  'notice.request.unsupportedMediaType':
    '修改数据的请求必须使用 application/json 内容类型，而不是 {type}。',
  'notice.request.foreignHost':
    '已拒绝发往主机 {host} 的请求：未设置访问令牌时，设备只响应 127.0.0.1 或 localhost。' +
    '请通过 http://127.0.0.1 打开页面，或设置 http.tokenFile。',
  'notice.request.crossOrigin': '请求来自 {origin} 的页面，而非本设备的页面，已拒绝。',
  'notice.field.unknownKey': '不接受字段“{key}”：请删除。',
  'notice.field.required': '此项必填',
  'notice.field.notObject': '请发送 JSON 对象',
  'notice.field.expected': '应为{type:notice.field.type}',
  'notice.field.type.number': '数值',
  'notice.field.type.string': '文本',
  'notice.field.type.boolean': 'true 或 false',
  'notice.field.type.array': '列表',
  'notice.field.type.object': '对象',
  'notice.field.oneOf': '应为以下之一：{options}',
  'notice.field.textNotEmpty': '至少应有 1 个字符',
  'notice.field.textMin': '至少应有 {min} 个字符',
  'notice.field.textMax': '最多 {max} 个字符',
  'notice.field.listNotEmpty': '至少应有 1 项',
  'notice.field.listMin': '至少应有 {min} 项',
  'notice.field.listMax': '最多 {max} 项',
  'notice.field.atLeast': '应不小于 {limit}',
  'notice.field.above': '应大于 {limit}',
  'notice.field.atMost': '应不大于 {limit}',
  'notice.field.below': '应小于 {limit}',
  'notice.field.invalid': '数值无效',
};

export const REQUEST_NOTICES = { en: EN, 'zh-CN': ZH_CN };
