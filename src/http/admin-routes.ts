import { type RequestHandler, Router } from 'express';
import { bearerToken, secretsEqual } from '../auth/api-key.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { NodeReports } from '../cluster/node-reports.js';
import type { NodeMetrics } from '../observability/metrics.js';
import { ErrorCode } from '../protocol/index.js';
import { HttpError } from './http-error.js';

/** The admin credentials the public port accepts. */
export interface AdminCredentials {
  /** `ADMIN_API_KEY`, if set. */
  key: string | undefined;
  /** The token verifier, if tokens are configured: a token with `"admin": true` is accepted. */
  verifier: TokenVerifier | undefined;
}

/**
 * Admits a request to the admin endpoints on the public port: `Authorization: Bearer <credential>`
 * with `ADMIN_API_KEY` or a valid token carrying `"admin": true`. Without either configured they
 * do not exist there (404): metrics and the cluster's view are not for the public, through nginx
 * or otherwise, unless the operator asked for them. A valid token without the claim is a 403.
 */
export function requireAdmin({ key, verifier }: AdminCredentials): RequestHandler {
  return (req, res, next) => {
    if (key === undefined && verifier === undefined) {
      next(new HttpError(404, ErrorCode.NotFound, `no route for ${req.method} ${req.path}`));
      return;
    }
    const given = bearerToken(req.get('authorization'));
    const refuse = (message: string) => {
      res.set('WWW-Authenticate', 'Bearer realm="push-cluster-admin"');
      next(new HttpError(401, ErrorCode.Unauthorized, message));
    };
    if (given === undefined) {
      refuse('missing Authorization header; expected "Bearer <ADMIN_API_KEY or admin token>"');
      return;
    }
    if (key !== undefined && secretsEqual(given, key)) {
      next();
      return;
    }
    // Only what looks like a JWT is worth verifying; anything else was a wrong key.
    if (verifier === undefined || given.split('.').length !== 3) {
      refuse('invalid admin key (ADMIN_API_KEY)');
      return;
    }
    verifier.verify(given).then((result) => {
      if (!result.ok) {
        if (result.code === ErrorCode.Unavailable) {
          next(new HttpError(503, result.code, result.message));
        } else {
          refuse(`admin token refused (${result.code}): ${result.message}`);
        }
      } else if (!result.identity.admin) {
        next(new HttpError(403, ErrorCode.Forbidden, 'this token has no "admin": true claim'));
      } else {
        next();
      }
    }, next);
  };
}

/** What the admin endpoints read. */
export interface AdminSources {
  metrics: NodeMetrics;
  reports: NodeReports;
}

/**
 * The admin endpoints, behind `authorize`: `GET /metrics` (the node's Prometheus metrics) and
 * `GET /api/cluster` (every node and the rooms, cluster-wide; partial rather than late).
 */
export function adminRoutes({ metrics, reports }: AdminSources, authorize: RequestHandler): Router {
  const router = Router();
  router.get('/metrics', authorize, (_req, res, next) => {
    metrics.text().then(({ contentType, body }) => {
      res.set('Content-Type', contentType);
      res.set('Cache-Control', 'no-store');
      res.send(body);
    }, next);
  });
  router.get('/api/cluster', authorize, (_req, res, next) => {
    reports.overview().then((overview) => {
      res.set('Cache-Control', 'no-store');
      res.json(overview);
    }, next);
  });
  return router;
}
