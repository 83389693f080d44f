import type { Publisher } from '../delivery/publisher.js';
import { roomNameSchema } from '../delivery/room-name.js';
import type { Logger } from '../observability/logger.js';
import type { PublishAck, RoomAck } from '../protocol/index.js';
import { CLIENT_EVENT_NAMES, ErrorCode, MAX_ROOMS_PER_CONNECTION } from '../protocol/index.js';
import { ackFailure, INTERNAL_FAILURE, type Reply, replyOf } from './ack.js';
import type { PushSocket } from './push-io.js';
import { roomKey } from './room-key.js';

/** What a connection handler needs from the node. */
export interface ConnectionDeps {
  nodeId: string;
  publisher: Publisher;
  logger: Logger;
}

/** A listener Socket.IO calls with the connection as `this`. */
type SocketListener = (this: PushSocket, ...args: unknown[]) => void;

/**
 * Builds the node's connection handler. It serves each client connection: greets it with
 * `welcome`, then answers `subscribe`, `unsubscribe` and `publish`. Every argument is untrusted;
 * every failure is an ack, never a thrown error (a throw inside a Socket.IO listener would take
 * the whole node down).
 *
 * The listeners are built once per node and shared by every connection (Socket.IO calls them with
 * the connection as `this`), so a connection costs no closures or child logger of its own: idle
 * connections are what a push node holds most of.
 */
export function createConnectionHandler(deps: ConnectionDeps): (socket: PushSocket) => void {
  const { nodeId, publisher, logger } = deps;

  const guard = <T>(
    event: string,
    handler: (socket: PushSocket, args: readonly unknown[], reply: Reply<T>) => void,
  ): SocketListener =>
    function (this: PushSocket, ...args: unknown[]): void {
      const reply = replyOf<T>(args);
      try {
        handler(this, args, reply);
      } catch (error) {
        logger.error({ sid: this.id, err: error, event }, 'event handler failed');
        reply(INTERNAL_FAILURE as T);
      }
    };

  const onSubscribe = guard<RoomAck>('subscribe', (socket, [room], reply) => {
    const name = roomNameSchema.safeParse(room);
    if (!name.success) {
      reply(ackFailure(ErrorCode.InvalidRoom, name.error.issues[0]?.message ?? 'invalid room'));
      return;
    }
    const key = roomKey(name.data);
    // socket.rooms also holds the socket's own id room.
    if (!socket.rooms.has(key) && socket.rooms.size > MAX_ROOMS_PER_CONNECTION) {
      reply(
        ackFailure(
          ErrorCode.TooManyRooms,
          `a connection may subscribe to at most ${MAX_ROOMS_PER_CONNECTION} rooms`,
        ),
      );
      return;
    }
    socket.join(key);
    reply({ ok: true, room: name.data });
  });

  const onUnsubscribe = guard<RoomAck>('unsubscribe', (socket, [room], reply) => {
    const name = roomNameSchema.safeParse(room);
    if (!name.success) {
      reply(ackFailure(ErrorCode.InvalidRoom, name.error.issues[0]?.message ?? 'invalid room'));
      return;
    }
    socket.leave(roomKey(name.data));
    reply({ ok: true, room: name.data });
  });

  const onPublish = guard<PublishAck>('publish', (_socket, [request], reply) => {
    const result = publisher.publish(request);
    reply(result.ok ? { ok: true, id: result.envelope.id } : result);
  });

  const onAny = (event: unknown, ...args: unknown[]): void => {
    if (typeof event === 'string' && CLIENT_EVENT_NAMES.has(event)) return;
    replyOf<RoomAck>(args)(
      ackFailure(
        ErrorCode.UnknownEvent,
        `unknown event ${JSON.stringify(String(event).slice(0, 64))}; expected subscribe, unsubscribe or publish`,
      ),
    );
  };

  function onDisconnect(this: PushSocket, reason: string): void {
    logger.debug({ sid: this.id, reason }, 'client disconnected');
  }

  return (socket) => {
    logger.debug({ sid: socket.id, transport: socket.conn.transport.name }, 'client connected');
    socket.on('subscribe', onSubscribe);
    socket.on('unsubscribe', onUnsubscribe);
    socket.on('publish', onPublish);
    socket.onAny(onAny);
    socket.on('disconnect', onDisconnect);
    socket.emit('welcome', { node: nodeId, sid: socket.id });
  };
}
