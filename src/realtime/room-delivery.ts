import type { HistorySlice, RoomLog, RoomMessage } from '../cluster/room-log.js';
import { continuesFrom } from '../cluster/room-log.js';
import type { Logger } from '../observability/logger.js';
import type { NodeMetrics } from '../observability/metrics.js';
import { ErrorCode, type ReplayedMessage, type RoomPosition } from '../protocol/index.js';
import type { PushIo, PushSocket } from './push-io.js';
import { RecentMessages } from './recent-messages.js';
import { roomKey, roomOfKey } from './room-key.js';

/** What joining a room tells the client: where the room stands, and whether it recovered. */
export interface JoinOutcome {
  /** `undefined` when the room log could not be read (Redis down). */
  position: RoomPosition | undefined;
  /** Set when the client asked to recover `since` a position. */
  recovered?: boolean;
  /**
   * Set when the client asked to recover and the history could not be read (Redis down): it
   * should ask again. A connection that was not in the room before is not in it now.
   */
  unreadable?: true;
  /**
   * With `unreadable`: this join took the connection out of the room again (it was not in it
   * before, and nothing else took it out meanwhile: an `unsubscribe`, a disconnect).
   */
  left?: true;
  /**
   * With `batch`: what the client missed and the live messages held meanwhile, oldest first, for
   * the answer to carry (one packet instead of one per message).
   */
  messages?: ReplayedMessage[];
}

/** After the live feed comes back, a second catch-up a little later closes the race of the first. */
const SECOND_CATCH_UP_MS = 1000;
/**
 * How long the room log may take to answer (a history read, a room's position, following a room)
 * before the answer counts as failed. A gap fill holds its room's live messages on this node
 * until the read answers, a recovery holds its client's, and a connection's `welcome` waits for
 * its rooms: a command that never answers (stuck on a Redis that went away) must not hold them
 * for good. Shorter than the client library's 10-s wait for a subscribe's answer, so that it
 * hears `unavailable` and asks again rather than timing out.
 */
export const HISTORY_READ_TIMEOUT_MS = 8_000;

/**
 * Delivers room messages to this node's subscribers, as the room log hands them over (in offset
 * order), and joins clients to rooms, replaying what a recovering client missed.
 *
 * Gaps in the node's own feed are filled from the history: for every room with subscribers here
 * the node remembers the last offset it delivered; a message further ahead (the feed dropped
 * some) or a comeback of the feed (`onResync`) makes it read what it missed from the history and
 * deliver that first, holding the room's live messages meanwhile. When the history no longer
 * reaches back, the room's subscribers here are told (`goodbye`, `unavailable`) and disconnected:
 * they reconnect, and learn that they could not recover.
 *
 * A recovering client is joined to the room at once, so that nothing published from then on
 * passes it by; while its history is read, the room's live messages skip it and wait in its own
 * buffer. The history is then sent, followed by the buffered messages it did not contain, in one
 * go: no gap, no duplicate, offset order.
 */
export class RoomDelivery {
  /**
   * Per room, the clients recovering it and, for each of their recoveries under way (a client may
   * ask again before the first is answered), the live messages held for it.
   */
  private readonly recovering = new Map<string, Map<PushSocket, Set<RoomMessage[]>>>();
  /** Per room with subscribers here, the last message delivered. */
  private readonly delivered = new Map<string, RoomPosition>();
  /** Rooms whose gap is being filled from the history, with the live messages held meanwhile. */
  private readonly filling = new Map<string, RoomMessage[]>();
  /**
   * Per room, the clients a recovery gave messages the node's live feed has not brought yet (the
   * history's answer came first: it and the feed arrive over different connections), with the
   * last one given: the feed's copies of those pass them by.
   */
  private readonly ahead = new Map<string, Map<PushSocket, RoomPosition>>();
  /**
   * Rooms joined while the room log had not confirmed following them (Redis slow): the earliest
   * position their members were told, to catch up from once the room is followed.
   */
  private readonly followedLate = new Map<string, RoomPosition>();
  /** Per connection, how many joins of each room it asked for (a failed recovery's leave checks). */
  private readonly joinCounts = new WeakMap<PushSocket, Map<string, number>>();

  constructor(
    private readonly io: PushIo,
    private readonly roomLog: RoomLog,
    private readonly historySize: number,
    private readonly metrics: NodeMetrics,
    private readonly logger: Logger,
    private readonly recent: RecentMessages = new RecentMessages({ messages: 0, bytes: 0 }, 0, 0),
    private readonly readTimeoutMs: number = HISTORY_READ_TIMEOUT_MS,
  ) {
    roomLog.onMessage((message) => {
      metrics.feedMessages.inc();
      if (message.bytes !== undefined) metrics.feedBytes.inc(message.bytes);
      this.receive(message);
    });
    // This node follows a room's messages while the room has members here (users' own rooms
    // too): from the first one's arrival to the last one's departure.
    const adapter = io.of('/').adapter;
    adapter.on('create-room', (key: string) => {
      const room = roomOfKey(key);
      if (room !== undefined) this.follow(room);
    });
    adapter.on('delete-room', (key: string) => {
      const room = roomOfKey(key);
      if (room !== undefined) this.unfollow(room);
    });
    roomLog.onResync(() => {
      // A room whose following failed while the backend was away is followed now.
      for (const key of io.of('/').adapter.rooms.keys()) {
        const room = roomOfKey(key);
        if (room !== undefined) this.follow(room);
      }
      this.catchUp();
      setTimeout(() => this.catchUp(), SECOND_CATCH_UP_MS).unref();
    });
  }

  /** A message from the room log: delivered, or held while its room's gap is filled. */
  receive(message: RoomMessage): void {
    const { room, envelope } = message;
    const held = this.filling.get(room);
    if (held !== undefined) {
      held.push(message);
      return;
    }
    if (!this.hasSubscribers(room)) {
      this.delivered.delete(room);
      this.recent.forget(room);
      return;
    }
    const last = this.delivered.get(room);
    const offset = envelope.offset ?? 0;
    if (last !== undefined && last.epoch === envelope.epoch) {
      if (offset <= last.offset) return; // already delivered (a catch-up got there first)
      if (offset > last.offset + 1) {
        void this.fill(room, last, [message]);
        return;
      }
    }
    this.send(message);
  }

  /**
   * Joins `socket` to `room`; with `since`, first sends what it missed when the room's history
   * reaches back that far: as events, or with `batch` in the outcome's `messages` (the caller
   * must send them before anything else reaches the socket: in the same tick). The socket is in
   * the room when this returns (synchronously), before the history is read; it leaves it again
   * only when a recovery finds the history unreadable and it was not in the room before.
   */
  async join(
    socket: PushSocket,
    room: string,
    since: RoomPosition | undefined,
    batch = false,
  ): Promise<JoinOutcome> {
    const key = roomKey(room);
    // This join answers from its own position: what an earlier join of this socket gave ahead of
    // the feed no longer counts (the feed's copies reach it; its client drops what it has).
    this.answerDropped(socket, room);
    const generation = this.countJoin(socket, room);
    // Following the room and reading it share one deadline: the answer comes within it.
    const deadline = performance.now() + this.readTimeoutMs;
    const left = () => Math.max(0, deadline - performance.now());
    if (since === undefined) {
      socket.join(key);
      // Where the room stands here: every later message reaches this socket. Asked of Redis
      // only for a room this node does not deliver yet.
      const delivered = this.delivered.get(room);
      if (delivered !== undefined) return { position: { ...delivered } };
      // Once the node receives the room's messages: every one after the position comes.
      const inTime = (await this.followWithin(room, left())) ?? true;
      const position = await this.bounded(this.roomLog.position(room), 'position', left()).catch(
        () => undefined,
      );
      if (!inTime && position !== undefined) this.told(room, position);
      return { position };
    }
    const recent = this.recent.after(room, since);
    if (recent !== undefined) {
      // Recovered from what this node delivered last, synchronously: no message can come
      // between these and the next live one.
      socket.join(key);
      this.metrics.recoveries.inc({ outcome: 'recovered' });
      this.metrics.replayed.inc(recent.messages.length);
      if (!batch) {
        for (const { event, envelope } of recent.messages) socket.emit(event, envelope);
        return { position: recent.position, recovered: true };
      }
      const messages = recent.messages.map(({ event, envelope }) => ({ event, envelope }));
      return {
        position: recent.position,
        recovered: true,
        ...(messages.length > 0 ? { messages } : {}),
      };
    }
    const wasIn = socket.rooms.has(key);
    let waiting = this.recovering.get(room);
    if (waiting === undefined) {
      waiting = new Map();
      this.recovering.set(room, waiting);
    }
    let buffers = waiting.get(socket);
    if (buffers === undefined) {
      buffers = new Set();
      waiting.set(socket, buffers);
    }
    const held: RoomMessage[] = [];
    buffers.add(held);
    socket.join(key);
    try {
      const inTime = (await this.followWithin(room, left())) ?? true;
      const slice = await this.readHistory(room, since.offset, left()).catch((error: unknown) => {
        this.logger.warn({ err: error, room }, 'cannot read room history for a recovery');
        return undefined;
      });
      // From here to the end, synchronously: nothing can come between history and live messages.
      const stillIn = socket.connected && socket.rooms.has(key);
      const replayed: ReplayedMessage[] = [];
      const send = ({ event, envelope }: RoomMessage) => {
        if (batch) replayed.push({ event, envelope });
        else socket.emit(event, envelope);
      };
      const outcome = (result: JoinOutcome): JoinOutcome =>
        batch && replayed.length > 0 ? { ...result, messages: replayed } : result;
      if (slice === undefined) {
        // Taken out again only if no other join of this room came for the socket meanwhile
        // (after an unsubscribe, a fresh subscribe answered at once: the client is in it now).
        if (!wasIn && buffers.size === 1 && this.joinsOf(socket).get(room) === generation) {
          if (!stillIn) return { position: undefined, unreadable: true };
          socket.leave(key);
          return { position: undefined, unreadable: true, left: true };
        }
        // Live messages it would otherwise miss; the client holds them until it recovers.
        if (stillIn) held.forEach(send);
        return outcome({ position: undefined, unreadable: true });
      }
      if (!inTime) this.told(room, slice.position);
      const recovered = continuesFrom(slice, since);
      this.metrics.recoveries.inc({ outcome: recovered ? 'recovered' : 'not_recovered' });
      let last = recovered ? since.offset : Number.NEGATIVE_INFINITY;
      if (recovered && stillIn) {
        slice.messages.forEach(send);
        this.metrics.replayed.inc(slice.messages.length);
        last = slice.messages.at(-1)?.envelope.offset ?? last;
      }
      if (stillIn) {
        for (const message of held) {
          const offset = message.envelope.offset ?? 0;
          if (offset > last) {
            send(message);
            last = offset;
          }
        }
        this.markAhead(room, socket, { offset: last, epoch: slice.position.epoch });
      }
      return outcome({ position: slice.position, recovered });
    } finally {
      buffers.delete(held);
      if (buffers.size === 0 && waiting.get(socket) === buffers) waiting.delete(socket);
      if (waiting.size === 0 && this.recovering.get(room) === waiting) this.recovering.delete(room);
    }
  }

  /**
   * Follows `room`'s messages (it has members here): `undefined` when they already come,
   * otherwise a promise that resolves once they do, or once the room log has not confirmed it in
   * time (a failure is logged and resolves too: the caller reads from the log anyway, and the
   * next member's arrival or the feed's comeback asks again).
   */
  follow(room: string): Promise<void> | undefined {
    return this.followWithin(room, this.readTimeoutMs)?.then(() => undefined);
  }

  /**
   * {@link follow}, waiting at most `ms`: resolves `true` once followed, `false` when the room log
   * failed or has not confirmed it in time. A room followed late then catches up from the
   * earliest position its members here were told meanwhile ({@link told}).
   */
  private followWithin(room: string, ms: number): Promise<boolean> | undefined {
    const following = this.roomLog.follow(room);
    if (following === undefined) return undefined;
    return this.bounded(following, 'follow', ms).then(
      () => true,
      (error: unknown) => {
        this.logger.warn({ err: error, room }, 'cannot follow room messages');
        following.then(
          () => this.caughtUpLate(room),
          () => {},
        );
        return false;
      },
    );
  }

  /** `room`'s members here were told `position` while it was not followed yet. */
  private told(room: string, position: RoomPosition): void {
    const earlier = this.followedLate.get(room);
    if (earlier?.epoch === position.epoch && earlier.offset <= position.offset) return;
    this.followedLate.set(room, { ...position });
  }

  /** `room` is followed at last: what its members here were told is caught up from the history. */
  private caughtUpLate(room: string): void {
    const from = this.followedLate.get(room) ?? this.delivered.get(room);
    this.followedLate.delete(room);
    if (from !== undefined && !this.filling.has(room) && this.hasSubscribers(room)) {
      void this.fill(room, from, []);
    }
  }

  /**
   * Lets go of `room`, followed ahead of a member that never came (a connection refused while
   * being admitted): no longer followed unless it has members here.
   */
  release(room: string): void {
    if (!this.hasSubscribers(room)) this.unfollow(room);
  }

  private unfollow(room: string): void {
    this.roomLog.unfollow(room);
    // What it delivered no longer says where the room stands: messages stop coming.
    this.delivered.delete(room);
    this.ahead.delete(room);
    this.followedLate.delete(room);
    this.recent.forget(room);
  }

  /** Notes that `socket` was given `room`'s messages up to `given`, if the feed is behind that. */
  /** Counts a join of `room` by `socket`; returns its number. */
  private countJoin(socket: PushSocket, room: string): number {
    const joins = this.joinsOf(socket);
    const count = (joins.get(room) ?? 0) + 1;
    joins.set(room, count);
    return count;
  }

  /** How many joins of each room `socket` has asked for. */
  private joinsOf(socket: PushSocket): Map<string, number> {
    let joins = this.joinCounts.get(socket);
    if (joins === undefined) {
      joins = new Map();
      this.joinCounts.set(socket, joins);
    }
    return joins;
  }

  /**
   * The answer of a batched join of `room` never reached `socket` (left out of a `welcome`): what
   * it carried no longer counts as given, so the feed's copies of those messages reach the socket
   * (its client holds them until its own `subscribe` answers, and drops what it already has).
   */
  answerDropped(socket: PushSocket, room: string): void {
    const sockets = this.ahead.get(room);
    if (sockets?.delete(socket) === true && sockets.size === 0) this.ahead.delete(room);
  }

  private markAhead(room: string, socket: PushSocket, given: RoomPosition): void {
    const delivered = this.delivered.get(room);
    if (!Number.isFinite(given.offset)) return;
    if (delivered?.epoch === given.epoch && delivered.offset >= given.offset) return;
    let sockets = this.ahead.get(room);
    if (sockets === undefined) {
      sockets = new Map();
      this.ahead.set(room, sockets);
    }
    sockets.set(socket, given);
  }

  /** The clients of `room` that already have `envelope` (see {@link ahead}). */
  private aheadOf(room: string, envelope: RoomMessage['envelope']): string[] {
    const sockets = this.ahead.get(room);
    if (sockets === undefined) return [];
    const skipped: string[] = [];
    for (const [socket, given] of sockets) {
      if (given.epoch === envelope.epoch && (envelope.offset ?? 0) <= given.offset) {
        skipped.push(socket.id);
      } else {
        // The feed has caught up with what it was given: from here on it gets the feed's.
        sockets.delete(socket);
      }
    }
    if (sockets.size === 0) this.ahead.delete(room);
    return skipped;
  }

  /** Sends `message` to the room's subscribers on this node, and remembers it was delivered. */
  private send(message: RoomMessage): void {
    const { room, event, envelope } = message;
    if (!this.hasSubscribers(room)) return; // the last one left while its gap was filled
    if (envelope.offset !== undefined && envelope.epoch !== undefined) {
      this.delivered.set(room, { offset: envelope.offset, epoch: envelope.epoch });
      this.recent.add(message);
    }
    const waiting = this.recovering.get(room);
    const key = roomKey(room);
    this.metrics.delivered.inc(this.io.of('/').adapter.rooms.get(key)?.size ?? 0);
    const target = this.io.local.to(key);
    const skipped = this.aheadOf(room, envelope);
    if (waiting === undefined && skipped.length === 0) {
      target.emit(event, envelope);
      return;
    }
    for (const socket of waiting?.keys() ?? []) skipped.push(socket.id);
    target.except(skipped).emit(event, envelope);
    for (const buffers of waiting?.values() ?? []) for (const held of buffers) held.push(message);
  }

  /**
   * Delivers what `room` had after `last` from the history, then the live messages held
   * meanwhile; cuts the room's subscribers here off when the history no longer reaches back.
   */
  private async fill(room: string, last: RoomPosition, held: RoomMessage[]): Promise<void> {
    this.filling.set(room, held);
    let slice: HistorySlice | undefined;
    try {
      slice = await this.readHistory(room, last.offset);
    } catch (error) {
      this.logger.warn({ err: error, room }, 'cannot read room history to fill a gap');
    }
    this.filling.delete(room);
    if (slice !== undefined && continuesFrom(slice, last)) {
      for (const message of slice.messages) this.send(message);
    } else {
      this.logger.warn({ room, from: last.offset }, 'room history does not reach back over a gap');
      this.cutOff(room);
    }
    // The held messages go through the usual checks: duplicates of the history are skipped.
    for (const message of held) this.receive(message);
  }

  /** The room's history after `after`; rejects when the room log has not answered in time. */
  private readHistory(room: string, after: number, ms = this.readTimeoutMs): Promise<HistorySlice> {
    return this.bounded(this.roomLog.read(room, after, Math.max(this.historySize, 1)), 'read', ms);
  }

  /** The room log's `answer`, or a rejection once it has taken longer than `ms`. */
  private bounded<T>(answer: Promise<T>, what: string, ms = this.readTimeoutMs): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no ${what} answer from the room log within ${Math.round(ms)} ms`)),
        ms,
      );
    });
    return Promise.race([answer, timedOut]).finally(() => clearTimeout(timer));
  }

  /** After the live feed came back: every room with subscribers here catches up. */
  private catchUp(): void {
    // Rooms joined while their following had failed first: from what their members were told.
    for (const room of [...this.followedLate.keys()]) this.caughtUpLate(room);
    for (const [room, last] of this.delivered) {
      if (!this.filling.has(room) && this.hasSubscribers(room)) void this.fill(room, last, []);
    }
  }

  /** The room's subscribers here missed messages that are gone: they reconnect and learn it. */
  private cutOff(room: string): void {
    this.delivered.delete(room);
    this.ahead.delete(room);
    this.recent.forget(room);
    const nsp = this.io.of('/');
    const ids = [...(nsp.adapter.rooms.get(roomKey(room)) ?? [])];
    for (const socket of ids.flatMap((id) => nsp.sockets.get(id) ?? [])) {
      socket.emit('goodbye', {
        code: ErrorCode.Unavailable,
        message: `messages of ${room} were missed and are no longer in its history; reconnect`,
      });
      socket.disconnect(true);
    }
  }

  private hasSubscribers(room: string): boolean {
    return this.io.of('/').adapter.rooms.has(roomKey(room));
  }
}
