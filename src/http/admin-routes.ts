import { type RequestHandler, Router } from 'express';
import { bearerToken, secretsEqual } from '../auth/api-key.js';
import type { NodeMetrics } from '../observability/metrics.js';
import { ErrorCode } from '../protocol/index.js';
import { HttpError } from './http-error.js';

/**
 * Admits a request to the admin endpoints on the public port: `Authorization: Bearer
 * <ADMIN_API_KEY>`. Without a configured key they do not exist there (404): metrics and the like
 * are not for the public, through nginx or otherwise, unless the operator asked for them.
 */
export function requireAdminKey(key: string | undefined): RequestHandler {
  return (req, res, next) => {
    if (key === undefined) {
      next(new HttpError(404, ErrorCode.NotFound, `no route for ${req.method} ${req.path}`));
      return;
    }
    const given = bearerToken(req.get('authorization'));
    if (given !== undefined && secretsEqual(given, key)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Bearer realm="push-cluster-admin"');
    next(
      new HttpError(401, ErrorCode.Unauthorized, 'missing or invalid admin key (ADMIN_API_KEY)'),
    );
  };
}

/** `GET /metrics`: the node's Prometheus metrics, behind `authorize`. */
export function adminRoutes(metrics: NodeMetrics, authorize: RequestHandler): Router {
  const router = Router();
  router.get('/metrics', authorize, (_req, res, next) => {
    metrics.text().then(({ contentType, body }) => {
      res.set('Content-Type', contentType);
      res.set('Cache-Control', 'no-store');
      res.send(body);
    }, next);
  });
  return router;
}
