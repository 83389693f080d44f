import type { RequestHandler } from 'express';
import { bearerToken, secretsEqual } from '../auth/api-key.js';
import { ErrorCode } from '../protocol/index.js';
import { HttpError } from './http-error.js';

/**
 * Express middleware requiring `Authorization: Bearer <key>`; anything else is a 401 with a
 * `WWW-Authenticate` challenge and a reason.
 */
export function requireApiKey(key: string): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization');
    const given = bearerToken(header);
    if (given !== undefined && secretsEqual(given, key)) {
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
