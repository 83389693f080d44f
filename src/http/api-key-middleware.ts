import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { bearerToken, matchingKey } from '../auth/api-key.js';
import type { RateStore } from '../cluster/rate-store.js';
import { ErrorCode } from '../protocol/index.js';
import { HttpError } from './http-error.js';

/** What guards the publish API. */
export interface ApiKeyOptions {
  /** Accepted keys (`PUBLISH_API_KEYS`). */
  keys: readonly string[];
  /** Requests per second per key, across the cluster (0 = no limit). */
  ratePerSecond: number;
  /** Where the counts live: shared by every node in a cluster. */
  rateStore: RateStore;
}

/**
 * Express middleware requiring `Authorization: Bearer <key>` with one of the configured keys
 * (compared in constant time), then at most `ratePerSecond` requests per second per key across
 * the cluster. A missing or wrong key is a 401 with a `WWW-Authenticate` challenge; a key over
 * its rate a 429 `rate_limited` with `Retry-After` (seconds).
 *
 * The rate is counted in the cluster's rate store, so that every node sees one budget per key.
 */
export function requireApiKey({ keys, ratePerSecond, rateStore }: ApiKeyOptions): RequestHandler {
  const limiter = ratePerSecond > 0 ? rateStore.limiter('api', ratePerSecond) : undefined;
  // Counted under a digest of the key: the key itself never reaches Redis.
  const rateKeys = keys.map((key) => createHash('sha256').update(key).digest('hex').slice(0, 24));
  return (req, res, next) => {
    const header = req.get('authorization');
    const given = bearerToken(header);
    const index = given === undefined ? -1 : matchingKey(given, keys);
    if (index === -1) {
      res.set('WWW-Authenticate', 'Bearer realm="push-cluster"');
      next(
        new HttpError(
          401,
          ErrorCode.Unauthorized,
          header === undefined
            ? 'missing Authorization header; expected "Bearer <key>" with one of PUBLISH_API_KEYS'
            : 'invalid API key',
        ),
      );
      return;
    }
    if (limiter === undefined) {
      next();
      return;
    }
    limiter.consume(rateKeys[index] as string).then((verdict) => {
      if (verdict.allowed) {
        next();
        return;
      }
      res.set('Retry-After', String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))));
      next(
        new HttpError(
          429,
          ErrorCode.RateLimited,
          `this API key is over ${ratePerSecond} requests per second (PUBLISH_API_RATE); retry later`,
        ),
      );
    }, next);
  };
}
