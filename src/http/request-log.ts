import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';

/** Paths asked for too often to log every time: load balancers' and orchestrators' probes. */
const QUIET_PATHS = new Set(['/healthz', '/readyz']);
const REQUEST_ID = /^[\w.-]{1,100}$/;

/**
 * One log line per HTTP request, at `info` (method, path, status, duration, request id), once the
 * response is sent; none for health probes. The request id is nginx's (`X-Request-Id`) when it
 * looks like one, else a fresh UUID, and is sent back in `X-Request-Id`. (Socket.IO's own
 * requests, long-polls included, never reach this application.)
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    res.set('X-Request-Id', id);
    if (QUIET_PATHS.has(req.path)) {
      next();
      return;
    }
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      logger.info(
        {
          req: id,
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          ip: req.get('x-real-ip') ?? req.socket.remoteAddress,
        },
        'http request',
      );
    });
    next();
  };
}
