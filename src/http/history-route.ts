import { type RequestHandler, Router } from 'express';
import type { ClusterReadiness } from '../cluster/cluster-backend.js';
import type { RoomLog } from '../cluster/room-log.js';
import { continuesFrom } from '../cluster/room-log.js';
import { ErrorCode, type HistoryPage } from '../protocol/index.js';
import { busUnreachable, HttpError } from './http-error.js';
import { roomParam } from './room-param.js';

/** What the history route needs. */
export interface HistoryRouteDeps {
  roomLog: RoomLog;
  /** Admits the request (the API key and its rate), or answers it. */
  authorize: RequestHandler;
  cluster: ClusterReadiness;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/**
 * `GET /api/rooms/:room/history?since=<offset>&epoch=<epoch>&limit=<n>` with the API key: the
 * room's messages after `since` (oldest first, at most `limit`, default 100, at most 1000) and
 * where the room stands: `{ room, offset, epoch, complete, messages: [{ event, envelope }] }`.
 * `complete` says the history reaches back to `since` in the same epoch (no message missing in
 * between); page on with `since` = the last message's offset. Without `since`, everything the
 * history holds.
 */
export function historyRoute({ roomLog, authorize, cluster }: HistoryRouteDeps): Router {
  const router = Router();
  router.get('/api/rooms/:room/history', authorize, (req, res, next) => {
    const room = roomParam(req.params.room);
    if (room instanceof HttpError) {
      next(room);
      return;
    }
    const since = wholeNumber(req.query.since, 0);
    const limit = wholeNumber(req.query.limit, DEFAULT_LIMIT);
    const epoch = req.query.epoch;
    if (since === undefined || limit === undefined || limit < 1 || limit > MAX_LIMIT) {
      next(
        new HttpError(
          400,
          ErrorCode.BadRequest,
          `since must be a whole number ≥ 0 and limit one from 1 to ${MAX_LIMIT}`,
        ),
      );
      return;
    }
    if (
      epoch !== undefined &&
      (typeof epoch !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(epoch))
    ) {
      next(new HttpError(400, ErrorCode.BadRequest, 'epoch must be an epoch from an envelope'));
      return;
    }
    if (!cluster.isReady()) {
      next(busUnreachable());
      return;
    }
    roomLog.read(room, since, limit).then((slice) => {
      const complete = continuesFrom(slice, {
        offset: since,
        epoch: typeof epoch === 'string' ? epoch : slice.position.epoch,
      });
      const page: HistoryPage = {
        room: room,
        ...slice.position,
        complete,
        messages: slice.messages.map(({ event, envelope }) => ({ event, envelope })),
      };
      res.json(page);
    }, next);
  });
  return router;
}

/** A query value as a whole number ≥ 0; `fallback` when absent, `undefined` when malformed. */
function wholeNumber(value: unknown, fallback: number): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}
