import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from '../http/http-error.js';
import { ErrorCode } from '../protocol/error-code.js';

/**
 * Compares two secrets in constant time (both are hashed first, so their lengths leak nothing).
 */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Express middleware requiring `Authorization: Bearer <key>`; anything else is a 401 with a
 * `WWW-Authenticate` challenge and a reason.
 */
export function requireApiKey(key: string): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization');
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1] !== undefined && secretsEqual(match[1], key)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Bearer realm="push-cluster"');
    next(
      new HttpError(
        401,
        ErrorCode.Unauthorized,
        header === undefined
          ? 'missing Authorization header; expected "Bearer <PUBLISH_API_KEY>"'
          : 'invalid API key',
      ),
    );
  };
}
