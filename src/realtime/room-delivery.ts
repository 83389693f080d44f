import type { RoomLog, RoomMessage } from '../cluster/room-log.js';
import { continuesFrom } from '../cluster/room-log.js';
import type { Logger } from '../observability/logger.js';
import type { RoomPosition } from '../protocol/index.js';
import type { PushIo, PushSocket } from './push-io.js';
import { roomKey } from './room-key.js';

/** What joining a room tells the client: where the room stands, and whether it recovered. */
export interface JoinOutcome {
  /** `undefined` when the room log could not be read (Redis down). */
  position: RoomPosition | undefined;
  /** Set when the client asked to recover `since` a position. */
  recovered?: boolean;
}

/**
 * Delivers room messages to this node's subscribers, as the room log hands them over (in offset
 * order), and joins clients to rooms, replaying what a recovering client missed.
 *
 * A recovering client is joined to the room at once, so that nothing published from then on
 * passes it by; while its history is read, the room's live messages skip it and wait in its own
 * buffer. The history is then sent, followed by the buffered messages it did not contain, in one
 * go: no gap, no duplicate, offset order.
 */
export class RoomDelivery {
  /** Per room, the clients recovering it and the live messages held for each. */
  private readonly recovering = new Map<string, Map<PushSocket, RoomMessage[]>>();

  constructor(
    private readonly io: PushIo,
    private readonly roomLog: RoomLog,
    private readonly historySize: number,
    private readonly logger: Logger,
  ) {
    roomLog.onMessage((message) => this.deliver(message));
  }

  /** Sends `message` to the room's subscribers on this node. */
  deliver({ room, event, envelope }: RoomMessage): void {
    const waiting = this.recovering.get(room);
    const target = this.io.local.to(roomKey(room));
    if (waiting === undefined) {
      target.emit(event, envelope);
      return;
    }
    target.except([...waiting.keys()].map((socket) => socket.id)).emit(event, envelope);
    for (const held of waiting.values()) held.push({ room, event, envelope });
  }

  /**
   * Joins `socket` to `room`; with `since`, first sends what it missed when the room's history
   * reaches back that far.
   */
  async join(
    socket: PushSocket,
    room: string,
    since: RoomPosition | undefined,
  ): Promise<JoinOutcome> {
    const key = roomKey(room);
    if (since === undefined) {
      socket.join(key);
      const position = await this.roomLog.position(room).catch(() => undefined);
      return { position };
    }
    let waiting = this.recovering.get(room);
    if (waiting === undefined) {
      waiting = new Map();
      this.recovering.set(room, waiting);
    }
    const held: RoomMessage[] = [];
    waiting.set(socket, held);
    socket.join(key);
    try {
      const slice = await this.roomLog
        .read(room, since.offset, Math.max(this.historySize, 1))
        .catch((error: unknown) => {
          this.logger.warn({ err: error, room }, 'cannot read room history for a recovery');
          return undefined;
        });
      const recovered = slice !== undefined && continuesFrom(slice, since);
      // From here to the end, synchronously: nothing can come between history and live messages.
      let last = recovered ? since.offset : Number.NEGATIVE_INFINITY;
      const send = ({ event, envelope }: RoomMessage) => {
        socket.emit(event, envelope);
        last = envelope.offset ?? last;
      };
      if (recovered && socket.connected) slice.messages.forEach(send);
      if (socket.connected && socket.rooms.has(key)) {
        for (const message of held) if ((message.envelope.offset ?? 0) > last) send(message);
      }
      return { position: slice?.position, recovered };
    } finally {
      waiting.delete(socket);
      if (waiting.size === 0 && this.recovering.get(room) === waiting) this.recovering.delete(room);
    }
  }
}
