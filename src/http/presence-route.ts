import { type RequestHandler, Router } from 'express';
import type { RoomPatterns } from '../auth/room-pattern.js';
import type { ClusterReadiness } from '../cluster/cluster-backend.js';
import type { Presence } from '../cluster/presence.js';
import { ErrorCode } from '../protocol/index.js';
import { busUnreachable, HttpError } from './http-error.js';
import { roomParam } from './room-param.js';

/** What the presence route needs. */
export interface PresenceRouteDeps {
  presence: Presence;
  /** The rooms that track presence (`PRESENCE_ROOMS`). */
  rooms: RoomPatterns;
  /** Admits the request (the API key and its rate), or answers it. */
  authorize: RequestHandler;
  cluster: ClusterReadiness;
}

/**
 * `GET /api/rooms/:room/presence` with the API key: `{ room, users }`, the users in a presence
 * room (each once, however many connections; guests included). 400 for a room that does not
 * track presence, 503 while Redis is unreachable.
 */
export function presenceRoute({ presence, rooms, authorize, cluster }: PresenceRouteDeps): Router {
  const router = Router();
  router.get('/api/rooms/:room/presence', authorize, (req, res, next) => {
    const room = roomParam(req.params.room);
    if (room instanceof HttpError) {
      next(room);
      return;
    }
    if (!rooms.matches(room)) {
      next(
        new HttpError(
          400,
          ErrorCode.BadRequest,
          `${room} does not track presence (PRESENCE_ROOMS)`,
        ),
      );
      return;
    }
    if (!cluster.isReady()) {
      next(busUnreachable());
      return;
    }
    presence.members(room).then((users) => res.json({ room: room, users }), next);
  });
  return router;
}
