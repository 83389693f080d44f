import type { Publisher } from '../delivery/publisher.js';
import { roomKey } from '../delivery/room-key.js';
import { roomNameSchema } from '../delivery/room-name.js';
import type { Logger } from '../observability/logger.js';
import type { PublishAck, RoomAck } from '../protocol/ack.js';
import { ErrorCode } from '../protocol/error-code.js';
import { CLIENT_EVENT_NAMES } from '../protocol/events.js';
import { MAX_ROOMS_PER_CONNECTION } from '../protocol/limits.js';
import { ackFailure, INTERNAL_FAILURE, type Reply, replyOf } from './ack.js';
import type { PushSocket } from './push-io.js';

/** What a connection handler needs from the node. */
export interface ConnectionDeps {
  nodeId: string;
  publisher: Publisher;
  logger: Logger;
}

/**
 * Serves one client connection: greets it with `welcome`, then answers `subscribe`,
 * `unsubscribe` and `publish`. Every argument is untrusted; every failure is an ack, never a
 * thrown error (a throw inside a Socket.IO listener would take the whole node down).
 */
export function handleConnection(socket: PushSocket, deps: ConnectionDeps): void {
  const { nodeId, publisher, logger } = deps;
  const log = logger.child({ sid: socket.id });
  log.debug({ transport: socket.conn.transport.name }, 'client connected');

  const guard =
    <T>(event: string, handler: (args: readonly unknown[], reply: Reply<T>) => void) =>
    (...args: unknown[]): void => {
      const reply = replyOf<T>(args);
      try {
        handler(args, reply);
      } catch (error) {
        log.error({ err: error, event }, 'event handler failed');
        reply(INTERNAL_FAILURE as T);
      }
    };

  socket.on(
    'subscribe',
    guard<RoomAck>('subscribe', ([room], reply) => {
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
    }),
  );

  socket.on(
    'unsubscribe',
    guard<RoomAck>('unsubscribe', ([room], reply) => {
      const name = roomNameSchema.safeParse(room);
      if (!name.success) {
        reply(ackFailure(ErrorCode.InvalidRoom, name.error.issues[0]?.message ?? 'invalid room'));
        return;
      }
      socket.leave(roomKey(name.data));
      reply({ ok: true, room: name.data });
    }),
  );

  socket.on(
    'publish',
    guard<PublishAck>('publish', ([request], reply) => {
      const result = publisher.publish(request);
      reply(result.ok ? { ok: true, id: result.envelope.id } : result);
    }),
  );

  socket.onAny((event: unknown, ...args: unknown[]) => {
    if (typeof event === 'string' && CLIENT_EVENT_NAMES.has(event)) return;
    replyOf<RoomAck>(args)(
      ackFailure(
        ErrorCode.UnknownEvent,
        `unknown event ${JSON.stringify(String(event).slice(0, 64))}; expected subscribe, unsubscribe or publish`,
      ),
    );
  });

  socket.on('disconnect', (reason) => log.debug({ reason }, 'client disconnected'));
  socket.emit('welcome', { node: nodeId, sid: socket.id });
}
