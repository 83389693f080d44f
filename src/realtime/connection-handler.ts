import { canSubscribe, userRoom } from '../auth/room-policy.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { UserConnectionLimiter } from '../cluster/user-connection-limiter.js';
import type { Publisher } from '../delivery/publisher.js';
import { roomNameSchema } from '../delivery/room-name.js';
import type { Logger } from '../observability/logger.js';
import type { NodeMetrics } from '../observability/metrics.js';
import {
  CLIENT_EVENT_NAMES,
  ErrorCode,
  type HandshakeJoin,
  type HandshakeRoom,
  MAX_ROOMS_PER_CONNECTION,
  type PresenceAck,
  type PublishAck,
  type RefreshAck,
  type RoomAck,
  type RoomPosition,
} from '../protocol/index.js';
import { ackFailure, INTERNAL_FAILURE, type Reply, replyOf } from './ack.js';
import type { EventRateLimit } from './event-rate-limit.js';
import { handshakeRoomsOf, withinReplayBudget } from './handshake-rooms.js';
import type { PushSocket } from './push-io.js';
import type { RoomDelivery } from './room-delivery.js';
import { roomKey, roomOfKey } from './room-key.js';
import type { RoomPresence } from './room-presence.js';
import { TokenExpiry } from './token-expiry.js';

/** What a connection handler needs from the node. */
export interface ConnectionDeps {
  nodeId: string;
  publisher: Publisher;
  /** Verifies `refresh` tokens; `undefined` when no token key is configured. */
  verifier: TokenVerifier | undefined;
  userConnections: UserConnectionLimiter;
  rateLimit: EventRateLimit;
  metrics: NodeMetrics;
  /** Joins rooms, replaying history to recovering clients. */
  rooms: RoomDelivery;
  /** Who is in presence rooms. */
  presence: RoomPresence;
  /**
   * The most replayed messages one `welcome` carries for the rooms of its handshake (one room's
   * whole history: `HISTORY_SIZE`); rooms past it are left for the client to subscribe.
   */
  welcomeReplay: number;
  logger: Logger;
}

/** The node's connection handler, and what it runs in the background. */
export interface ConnectionHandler {
  /** Serves one admitted connection. */
  onConnection(socket: PushSocket): void;
  /** Stops the token-expiry timer. */
  close(): void;
}

/** A listener Socket.IO calls with the connection as `this`. */
type SocketListener = (this: PushSocket, ...args: unknown[]) => void;

/**
 * Builds the node's connection handler. It serves each admitted connection: joins it to its
 * user's room, greets it with `welcome`, answers `subscribe`, `unsubscribe`, `publish` and
 * `refresh` within the connection's permissions and event rate, and ends it when its token
 * expires. Every argument is untrusted; every failure is an ack, never a thrown error (a throw
 * inside a Socket.IO listener would take the whole node down).
 *
 * The listeners are built once per node and shared by every connection (Socket.IO calls them with
 * the connection as `this`), so a connection costs no closures or child logger of its own: idle
 * connections are what a push node holds most of.
 */
export function createConnectionHandler(deps: ConnectionDeps): ConnectionHandler {
  const { nodeId, publisher, verifier, userConnections, rateLimit, rooms, presence, metrics } =
    deps;
  const { logger } = deps;

  /** Says why, then closes the connection from the server side. */
  const cut = (socket: PushSocket, code: ErrorCode, message: string) => {
    metrics.cutoffs.inc({ code });
    logger.info({ sid: socket.id, user: socket.data.identity.userId, code }, 'connection cut off');
    socket.emit('goodbye', { code, message });
    socket.disconnect(true);
  };

  const expiry = new TokenExpiry<PushSocket>((socket) =>
    cut(socket, ErrorCode.TokenExpired, 'the token expired; reconnect with a fresh one'),
  );

  /** Rate-limits, then runs `handler`; its failures become acks. */
  const guard = <T>(
    event: string,
    handler: (
      socket: PushSocket,
      args: readonly unknown[],
      reply: Reply<T>,
    ) => void | Promise<void>,
  ): SocketListener =>
    function (this: PushSocket, ...args: unknown[]): void {
      const reply = counted(replyOf<T>(args));
      if (!withinRate(this, reply)) return;
      const failed = (error: unknown) => {
        logger.error({ sid: this.id, err: error, event }, 'event handler failed');
        reply(INTERNAL_FAILURE as T);
      };
      try {
        handler(this, args, reply)?.catch(failed);
      } catch (error) {
        failed(error);
      }
    };

  /** Takes one event from the connection's bucket; refuses (or cuts off) a client over it. */
  const withinRate = <T>(socket: PushSocket, reply: Reply<T>): boolean => {
    const decision = rateLimit.take(socket.data);
    if (decision === 'accept') return true;
    if (decision === 'cut') {
      cut(socket, ErrorCode.RateLimited, 'too many events; slow down before reconnecting');
    } else {
      reply(
        ackFailure(
          ErrorCode.RateLimited,
          `over ${rateLimit.rate} events per second (burst ${rateLimit.burst}); slow down`,
        ) as T,
      );
    }
    return false;
  };

  /** Rooms a connection holds besides its subscriptions: its own id's and its user's. */
  const baseRooms = (socket: PushSocket) => (socket.data.identity.guest ? 1 : 2);

  /**
   * Joins `room` as a `subscribe` asks (`options`: where the client left it, and how to replay):
   * the answer, never a throw for bad input. With `batch`, what was missed is in the answer, which
   * must go out in the same tick (nothing else may reach the socket before it).
   */
  const subscribe = async (socket: PushSocket, room: unknown, options: unknown) => {
    const name = roomNameSchema.safeParse(room);
    if (!name.success) {
      return ackFailure(ErrorCode.InvalidRoom, name.error.issues[0]?.message ?? 'invalid room');
    }
    const choice = subscribeOptionsOf(options);
    if (choice === null) {
      return ackFailure(
        ErrorCode.BadRequest,
        'subscribe options must be { since?: { offset, epoch }, batch?: boolean } (a whole offset ≥ 0, an epoch from an envelope)',
      );
    }
    if (!canSubscribe(socket.data.identity, name.data)) {
      return ackFailure(ErrorCode.Forbidden, `this connection may not subscribe to ${name.data}`);
    }
    const key = roomKey(name.data);
    if (
      !socket.rooms.has(key) &&
      socket.rooms.size - baseRooms(socket) >= MAX_ROOMS_PER_CONNECTION
    ) {
      return ackFailure(
        ErrorCode.TooManyRooms,
        `a connection may subscribe to at most ${MAX_ROOMS_PER_CONNECTION} rooms`,
      );
    }
    const joining = !socket.rooms.has(key);
    // The socket is in the room once join() returns its promise: presence hears of it before
    // any unsubscribe that overtakes the join can say it left.
    const joined = rooms.join(socket, name.data, choice.since, choice.batch);
    if (joining) presence.entered(socket, name.data);
    const { position, recovered, unreadable, left, messages } = await joined;
    if (unreadable === true) {
      // Only when this join took it out again: an unsubscribe or a disconnect meanwhile has
      // already told presence that it left.
      if (left === true) presence.left(socket, name.data);
      return ackFailure(
        ErrorCode.Unavailable,
        `the history of ${name.data} cannot be read right now; retry the subscribe`,
      );
    }
    const ack: RoomAck = {
      ok: true,
      room: name.data,
      ...(position === undefined ? {} : position),
      ...(recovered === undefined ? {} : { recovered }),
      ...(messages === undefined ? {} : { messages }),
    };
    return ack;
  };

  const onSubscribe = guard<RoomAck>('subscribe', async (socket, [room, options], reply) => {
    reply(await subscribe(socket, room, options));
  });

  /**
   * Joins the rooms the connection asked for in its handshake (already checked to be at most
   * MAX_HANDSHAKE_ROOMS `{ room, since? }`), each as a batched `subscribe` would: the answers for
   * its `welcome`. They take none of the connection's event budget (the handshake bounds them).
   */
  const joinAtHandshake = (socket: PushSocket, asked: readonly HandshakeRoom[]) =>
    Promise.all(
      asked.map(async ({ room, since }): Promise<HandshakeJoin> => {
        const options = since === undefined ? { batch: true } : { since, batch: true };
        const ack = await subscribe(socket, room, options);
        if (!ack.ok) metrics.refusals.inc({ code: ack.error.code });
        return { room, ack };
      }),
    );

  const onUnsubscribe = guard<RoomAck>('unsubscribe', (socket, [room], reply) => {
    const name = roomNameSchema.safeParse(room);
    if (!name.success) {
      reply(ackFailure(ErrorCode.InvalidRoom, name.error.issues[0]?.message ?? 'invalid room'));
      return;
    }
    const { identity } = socket.data;
    if (!identity.guest && name.data === userRoom(identity.userId)) {
      reply(ackFailure(ErrorCode.Forbidden, 'a connection stays in its own user room'));
      return;
    }
    const key = roomKey(name.data);
    if (socket.rooms.has(key)) {
      socket.leave(key);
      presence.left(socket, name.data);
    }
    reply({ ok: true, room: name.data });
  });

  const onPublish = guard<PublishAck>('publish', async (socket, [request], reply) => {
    const result = await publisher.publish(request, { source: 'socket', as: socket.data.identity });
    if (!result.ok) {
      reply(result);
      return;
    }
    reply({ ok: true, ...result.receipt });
  });

  const onPresence = guard<PresenceAck>('presence', async (socket, [room], reply) => {
    const name = roomNameSchema.safeParse(room);
    if (!name.success) {
      reply(ackFailure(ErrorCode.InvalidRoom, name.error.issues[0]?.message ?? 'invalid room'));
      return;
    }
    if (!canSubscribe(socket.data.identity, name.data)) {
      reply(ackFailure(ErrorCode.Forbidden, `this connection may not see who is in ${name.data}`));
      return;
    }
    if (!presence.enabled(name.data)) {
      reply(
        ackFailure(ErrorCode.BadRequest, `${name.data} does not track presence (PRESENCE_ROOMS)`),
      );
      return;
    }
    const users = await presence.members(name.data).catch(() => undefined);
    reply(
      users === undefined
        ? ackFailure(ErrorCode.Unavailable, 'presence is unavailable right now; retry')
        : { ok: true, room: name.data, users },
    );
  });

  const onRefresh = guard<RefreshAck>('refresh', async (socket, [token], reply) => {
    const current = socket.data.identity;
    if (current.guest || verifier === undefined) {
      reply(
        ackFailure(ErrorCode.Forbidden, 'a guest connection has no token to refresh; reconnect'),
      );
      return;
    }
    const verified = await verifier.verify(token);
    if (!socket.connected) return;
    if (!verified.ok) {
      reply(ackFailure(verified.code, verified.message));
      return;
    }
    const { identity } = verified;
    if (identity.userId !== current.userId) {
      reply(ackFailure(ErrorCode.Forbidden, 'a refresh token must be for the same user (sub)'));
      return;
    }
    socket.data.identity = identity;
    // The new token may grant less: rooms it no longer allows are left, and the client is told.
    const refused = [...socket.rooms].flatMap((key) => {
      const room = roomOfKey(key);
      return room !== undefined && !canSubscribe(identity, room) ? [room] : [];
    });
    for (const room of refused) {
      socket.leave(roomKey(room));
      presence.left(socket, room);
      socket.emit('unsubscribed', {
        room,
        code: ErrorCode.Forbidden,
        message: `the refreshed token does not allow ${room}`,
      });
    }
    if (identity.expiresAt !== null) expiry.schedule(socket, identity.expiresAt);
    reply({ ok: true, expiresAt: identity.expiresAt ?? 0 });
  });

  const onAny = function (this: PushSocket, event: unknown, ...args: unknown[]): void {
    if (typeof event === 'string' && CLIENT_EVENT_NAMES.has(event)) return;
    const reply = counted(replyOf<RoomAck>(args));
    if (!withinRate(this, reply)) return;
    reply(
      ackFailure(
        ErrorCode.UnknownEvent,
        `unknown event ${JSON.stringify(String(event).slice(0, 64))}; expected subscribe, unsubscribe, publish, presence or refresh`,
      ),
    );
  };

  function onDisconnecting(this: PushSocket): void {
    presence.leftAll(this);
  }

  /** A reply that counts refusals by code. */
  function counted<T>(reply: Reply<T>): Reply<T> {
    return (result) => {
      const failure = result as { ok?: boolean; error?: { code?: ErrorCode } };
      if (failure.ok === false && failure.error?.code !== undefined) {
        metrics.refusals.inc({ code: failure.error.code });
      }
      reply(result);
    };
  }

  function onDisconnect(this: PushSocket, reason: string): void {
    metrics.disconnects.inc({ reason });
    const { identity } = this.data;
    logger.debug({ sid: this.id, user: identity.userId, reason }, 'client disconnected');
    expiry.cancel(this);
    if (!identity.guest) userConnections.release(identity.userId);
  }

  return {
    onConnection(socket) {
      const { identity } = socket.data;
      logger.debug(
        { sid: socket.id, user: identity.userId, transport: socket.conn.transport.name },
        'client connected',
      );
      if (!identity.guest) socket.join(roomKey(userRoom(identity.userId)));
      if (identity.expiresAt !== null) expiry.schedule(socket, identity.expiresAt);
      socket.on('subscribe', onSubscribe);
      socket.on('unsubscribe', onUnsubscribe);
      socket.on('publish', onPublish);
      socket.on('refresh', onRefresh);
      socket.onAny(onAny);
      socket.on('presence', onPresence);
      if (presence.active) socket.on('disconnecting', onDisconnecting);
      socket.on('disconnect', onDisconnect);
      const welcome = (joined: HandshakeJoin[] | undefined) => {
        if (!socket.connected) return;
        socket.emit('welcome', {
          node: nodeId,
          sid: socket.id,
          user: identity.userId,
          guest: identity.guest,
          events: { rate: rateLimit.rate, burst: rateLimit.burst },
          ...(joined === undefined ? {} : { joined }),
        });
      };
      // Welcomed once this node receives the user's messages (none sent after it passes by) and
      // has joined the rooms asked for in the handshake: their answers (and what they missed)
      // come with it, in the same packet.
      const following = identity.guest ? undefined : rooms.follow(userRoom(identity.userId));
      // Admission refused a malformed list (connect_error): null cannot reach here.
      const asked = handshakeRoomsOf(socket.handshake.auth) ?? undefined;
      if (following === undefined && asked === undefined) {
        welcome(undefined);
        return;
      }
      // Any failure here, the welcome's own included (a throw would be an unhandled rejection,
      // which ends the node), closes this connection only, saying so: the client comes back.
      void Promise.all([following, asked && joinAtHandshake(socket, asked)])
        .then(([, joined]) => {
          const answered = joined && withinReplayBudget(joined, deps.welcomeReplay);
          for (const { room } of joined ?? []) {
            if (!answered?.some((answer) => answer.room === room))
              rooms.answerDropped(socket, room);
          }
          welcome(answered);
        })
        .catch((error: unknown) => {
          logger.error({ sid: socket.id, err: error }, 'joining the handshake rooms failed');
          cut(socket, ErrorCode.Internal, 'internal error while joining the rooms; reconnect');
        });
    },
    close: () => expiry.close(),
  };
}

/** Subscribe options, validated: where the client left the room, and how to replay. */
interface SubscribeChoice {
  since: RoomPosition | undefined;
  batch: boolean;
}

/**
 * The subscribe options: `{ since?, batch? }`, or none (no options, or the ack callback came
 * second); `null` when malformed.
 */
function subscribeOptionsOf(options: unknown): SubscribeChoice | null {
  if (options === undefined || typeof options === 'function') {
    return { since: undefined, batch: false };
  }
  if (typeof options !== 'object' || options === null) return null;
  const keys = Object.keys(options);
  if (keys.some((key) => key !== 'since' && key !== 'batch')) return null;
  const { since, batch } = options as { since?: unknown; batch?: unknown };
  if (batch !== undefined && typeof batch !== 'boolean') return null;
  if (since === undefined) return { since: undefined, batch: batch === true };
  if (typeof since !== 'object' || since === null) return null;
  const { offset, epoch } = since as { offset?: unknown; epoch?: unknown };
  if (Object.keys(since).length !== 2) return null;
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) return null;
  if (typeof epoch !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(epoch)) return null;
  return { since: { offset: offset as number, epoch }, batch: batch === true };
}
