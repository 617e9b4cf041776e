import type { Hono } from 'hono';

/** Response of `postJson`: the HTTP status and the parsed JSON body. */
export interface JsonResponse<T> {
  status: number;
  body: T;
}

/** Posts `body` as JSON to `path` of an in-process hono app and parses the JSON response. */
export async function postJson<T>(
  app: Hono,
  path: string,
  body: unknown,
): Promise<JsonResponse<T>> {
  const response = await app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}
