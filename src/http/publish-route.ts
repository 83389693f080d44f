import express, { type RequestHandler, Router } from 'express';
import type { Publisher } from '../delivery/publisher.js';
import { ErrorCode } from '../protocol/index.js';
import { HttpError } from './http-error.js';

/** What the publish route needs. */
export interface PublishRouteDeps {
  publisher: Publisher;
  /** Admits the request (the API key and its rate), or answers it. */
  authorize: RequestHandler;
  maxPayloadBytes: number;
}

/** HTTP status for each publish refusal that is not the client's fault. */
const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.IdempotencyConflict]: 422,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.OutcomeUnknown]: 503,
};

/**
 * `POST /api/publish` with `Authorization: Bearer <key>` and a JSON body
 * `{ room? | user?, event?, data, idempotencyKey? }`: 202 `{ id }` once the message is handed to
 * the cluster (for a room, once the room's log holds it: `{ id, offset, epoch }`, with
 * `duplicate: true` for a retry); 400, 401, 413, 415, 422, 429 or 503 with
 * `{ error: { code, message } }` otherwise.
 */
export function publishRoute({ publisher, authorize, maxPayloadBytes }: PublishRouteDeps): Router {
  const router = Router();
  router.post(
    '/api/publish',
    authorize,
    (req, _res, next) => {
      if (!req.is('application/json')) {
        next(
          new HttpError(
            415,
            ErrorCode.UnsupportedMediaType,
            'Content-Type must be application/json',
          ),
        );
        return;
      }
      next();
    },
    express.json({ limit: maxPayloadBytes, strict: false }),
    (req, res, next) => {
      publisher.publish(req.body, { source: 'http' }).then((result) => {
        if (!result.ok) {
          const status = STATUS_BY_CODE[result.error.code] ?? 400;
          next(new HttpError(status, result.error.code, result.error.message));
          return;
        }
        res.status(202).json(result.receipt);
      }, next);
    },
  );
  return router;
}
