import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import type { NodeMetrics } from '../observability/metrics.js';
import { ErrorCode } from '../protocol/index.js';
import { HttpError } from './http-error.js';

/** Answers unknown routes with a JSON 404. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, ErrorCode.NotFound, `no route for ${req.method} ${req.path}`));
};

/** body-parser's error `type`s, mapped to what the client did wrong. */
const BODY_ERRORS: Readonly<Record<string, { status: number; code: ErrorCode; reason: string }>> = {
  'entity.parse.failed': { status: 400, code: ErrorCode.BadRequest, reason: 'invalid JSON' },
  'entity.too.large': {
    status: 413,
    code: ErrorCode.PayloadTooLarge,
    reason: 'request body too large',
  },
  'entity.verify.failed': { status: 400, code: ErrorCode.BadRequest, reason: 'invalid body' },
  'request.aborted': { status: 400, code: ErrorCode.BadRequest, reason: 'request aborted' },
  'request.size.invalid': { status: 400, code: ErrorCode.BadRequest, reason: 'size mismatch' },
  'charset.unsupported': {
    status: 415,
    code: ErrorCode.UnsupportedMediaType,
    reason: 'unsupported charset',
  },
  'encoding.unsupported': {
    status: 415,
    code: ErrorCode.UnsupportedMediaType,
    reason: 'unsupported content encoding',
  },
};

/**
 * Turns every error into `{ error: { code, message } }` with a fitting status (a 503 with
 * `Retry-After: 1`). Unexpected errors are logged and answered with a generic 500 that reveals
 * nothing internal.
 */
export function errorHandler(logger: Logger, metrics: NodeMetrics): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const known = toHttpError(error);
    if (known === undefined) {
      logger.error(
        { req: res.get('x-request-id'), err: error, method: req.method, path: req.path },
        'request failed',
      );
    }
    const { status, code, message } =
      known ?? new HttpError(500, ErrorCode.Internal, 'internal error');
    metrics.refusals.inc({ code });
    // A 503 is temporary: every one says when to try again.
    if (status === 503 && !res.get('Retry-After')) res.set('Retry-After', '1');
    res.status(status).json({ error: { code, message } });
  };
}

function toHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (typeof error !== 'object' || error === null || !('type' in error)) return undefined;
  const mapped = BODY_ERRORS[String(error.type)];
  if (mapped === undefined) return undefined;
  const detail =
    'message' in error && typeof error.message === 'string' ? `: ${error.message}` : '';
  return new HttpError(mapped.status, mapped.code, `${mapped.reason}${detail}`);
}
