import type { Identity } from '../auth/identity.js';
import { originAllowed } from '../auth/origin-policy.js';
import { userRoom } from '../auth/room-policy.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { UserConnectionLimiter } from '../cluster/user-connection-limiter.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import type { NodeMetrics } from '../observability/metrics.js';
import { ErrorCode, type ProtocolError } from '../protocol/index.js';
import type { EventRateLimit } from './event-rate-limit.js';
import { HANDSHAKE_ROOMS_SHAPE, handshakeRoomsOf } from './handshake-rooms.js';
import type { PushSocket } from './push-io.js';
import type { RoomDelivery } from './room-delivery.js';

/** What admitting a connection needs. */
export interface ConnectionAuthDeps {
  /** `undefined` when no token key is configured (guests only). */
  verifier: TokenVerifier | undefined;
  /** Makes a guest identity; `undefined` when guests are not allowed. */
  newGuest: (() => Identity) | undefined;
  corsOrigins: Config['corsOrigins'];
  userConnections: UserConnectionLimiter;
  rateLimit: EventRateLimit;
  /**
   * Starts following a user's own room while the rest of the admission runs (the connection's
   * `welcome` waits until the node receives that room), and lets go of it when the connection
   * is refused.
   */
  userRooms: Pick<RoomDelivery, 'follow' | 'release'>;
  metrics: NodeMetrics;
  logger: Logger;
}

/** The error a Socket.IO middleware passes on: the client's `connect_error`, with `data`. */
class ConnectRefusal extends Error {
  readonly data: ProtocolError;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.data = { code, message };
  }
}

/**
 * The Socket.IO middleware that admits a connection, or refuses it with a `connect_error` whose
 * `data.code` says why:
 * 1. a browser page from another origin → `forbidden_origin` (see `CORS_ORIGINS`);
 * 2. a malformed `auth.rooms` (the rooms to join before the welcome) → `bad_request`;
 * 3. a token in `auth.token` is verified → `token_invalid` / `token_expired` (or `unavailable`
 *    when the key set cannot be fetched); no token → a guest identity when guests are allowed,
 *    else `auth_required`;
 * 4. a user over `MAX_CONNECTIONS_PER_USER` across the cluster → `too_many_connections`.
 *
 * The admitted connection's identity and rate-limit bucket go into `socket.data`.
 */
export function authenticateConnections(
  deps: ConnectionAuthDeps,
): (socket: PushSocket, next: (error?: Error) => void) => void {
  const {
    verifier,
    newGuest,
    corsOrigins,
    userConnections,
    rateLimit,
    userRooms,
    metrics,
    logger,
  } = deps;

  /** Counts the connection against its user's limit: the refusal, if it is refused. */
  const counted = async (socket: PushSocket, userId: string) => {
    if (!(await userConnections.acquire(userId))) {
      return new ConnectRefusal(
        ErrorCode.TooManyConnections,
        `user ${userId} already holds the most connections allowed (MAX_CONNECTIONS_PER_USER)`,
      );
    }
    if (socket.conn.readyState !== 'open') {
      // Gone while being admitted: it will never connect, so it holds nothing.
      userConnections.release(userId);
      return new ConnectRefusal(ErrorCode.AuthRequired, 'closed during the handshake');
    }
    return undefined;
  };

  const admit = async (socket: PushSocket): Promise<ConnectRefusal | undefined> => {
    const { headers, auth } = socket.handshake;
    const origin = headers.origin;
    if (!originAllowed(origin, headers.host, corsOrigins)) {
      return new ConnectRefusal(
        ErrorCode.ForbiddenOrigin,
        `pages from ${String(origin)} may not connect (see CORS_ORIGINS)`,
      );
    }
    if (handshakeRoomsOf(auth) === null) {
      return new ConnectRefusal(ErrorCode.BadRequest, HANDSHAKE_ROOMS_SHAPE);
    }
    const token: unknown = auth.token;
    let identity: Identity;
    if (token === undefined || token === null || token === '') {
      if (newGuest === undefined) {
        return new ConnectRefusal(
          ErrorCode.AuthRequired,
          'a token is required: connect with auth: { token }',
        );
      }
      identity = newGuest();
    } else {
      if (verifier === undefined) {
        return new ConnectRefusal(
          ErrorCode.TokenInvalid,
          'this cluster has no token key configured; connect without a token (as a guest)',
        );
      }
      const verified = await verifier.verify(token);
      if (!verified.ok) return new ConnectRefusal(verified.code, verified.message);
      identity = verified.identity;
      // The subscription and the count overlap (one Redis round trip less before the welcome),
      // and both are done once the connection is admitted: its `welcome` goes out with
      // Socket.IO's answer to the connect, in the same poll response for a long-polling client.
      const ownRoom = userRoom(identity.userId);
      const [refused] = await Promise.all([
        counted(socket, identity.userId).catch((error: unknown) => {
          userRooms.release(ownRoom);
          throw error;
        }),
        userRooms.follow(ownRoom),
      ]);
      if (refused !== undefined) {
        userRooms.release(ownRoom);
        return refused;
      }
    }
    socket.data = { identity, ...rateLimit.initial() };
    return undefined;
  };

  return (socket, next) => {
    admit(socket).then(
      (refusal) => {
        if (refusal !== undefined) {
          metrics.refusals.inc({ code: refusal.data.code });
          logger.info(
            {
              sid: socket.id,
              req: socket.handshake.headers['x-request-id'],
              code: refusal.data.code,
              reason: refusal.message,
              ip: socket.handshake.address,
            },
            'connection refused',
          );
        }
        next(refusal);
      },
      (error: unknown) => {
        logger.error({ sid: socket.id, err: error }, 'connection admission failed');
        next(
          new ConnectRefusal(ErrorCode.Internal, 'internal error while admitting the connection'),
        );
      },
    );
  };
}
