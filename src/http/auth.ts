import { createHash, timingSafeEqual } from 'node:crypto';

import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

import { notice } from '../notices/index.ts';
import { ProblemError, problemResponse } from './problem.ts';

/** Cookie that carries the token for the page, its script requests and its event stream. */
export const TOKEN_COOKIE = 'bv_edge_token';

/** Checks a presented token against the configured one in constant time. */
export class TokenCheck {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(token);
  }

  matches(presented: string | undefined): boolean {
    if (presented === undefined || presented === '') return false;
    return timingSafeEqual(this.digest, sha256(presented));
  }

  /** Returns whether the request carries the token as a bearer token or in the page's cookie. */
  allows(c: Context): boolean {
    const header = c.req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1];
    return this.matches(bearer) || this.matches(getCookie(c, TOKEN_COOKIE));
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Rejects requests without the token with a 401 problem response. */
export function requireToken(check: TokenCheck): MiddlewareHandler {
  return async (c, next) => {
    if (check.allows(c)) return next();
    c.header('WWW-Authenticate', 'Bearer realm="bv-edge"');
    const problem = new ProblemError(401, 'unauthorized', notice('notice.request.unauthorized'))
      .problem;
    return problemResponse(c, problem);
  };
}

/**
 * Stores the token in an HttpOnly cookie for the page. SameSite=Strict keeps other sites from
 * sending it. The cookie cannot be Secure, because the cart serves plain HTTP.
 */
export function storeTokenCookie(c: Context, token: string): void {
  setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' });
}
