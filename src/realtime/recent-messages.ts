import type { RoomMessage } from '../cluster/room-log.js';
import type { HistoryConfig } from '../config/config.js';
import type { RoomPosition } from '../protocol/index.js';

/** Messages a node keeps per room at most (fewer when `HISTORY_SIZE` is smaller)... */
const PER_ROOM = 1000;
/** ...and bytes of their JSON text: seconds of a busy room of small messages. */
const PER_ROOM_BYTES = 1024 * 1024;
/** Bytes a node keeps in all; a room dropped from it recovers from Redis as before. */
const BUDGET_BYTES = 32 * 1024 * 1024;

/** The recent messages a node keeps for a room history configured as `history`. */
export function recentMessagesFor(history: HistoryConfig): RecentMessages {
  return new RecentMessages(
    { messages: Math.min(history.size, PER_ROOM), bytes: PER_ROOM_BYTES },
    BUDGET_BYTES,
    history.ttlSeconds * 1000,
  );
}

/** How much one room's tail holds at most. */
export interface TailLimit {
  messages: number;
  bytes: number;
}

/** One room's last messages delivered here, contiguous in one epoch, oldest first. */
interface RoomTail {
  epoch: string;
  messages: RoomMessage[];
  /** Their JSON text's length, each and in all. */
  sizes: number[];
  bytes: number;
  /** When the last one was added (ms): the room's history expires `ttlMs` after it. */
  lastAt: number;
}

/** What a tail can give a recovering client: what followed its position, and where the room stands. */
export interface RecentSlice {
  position: RoomPosition;
  messages: RoomMessage[];
}

/**
 * The last messages this node delivered in each room that has subscribers here, kept in memory so
 * that a client coming back (a reconnect storm after a node died or drained) recovers from the
 * node's memory, at once, instead of each reading the room's history from Redis and waiting for
 * it. It never holds more than the history would (`perRoom` ≤ `HISTORY_SIZE`, nothing once the
 * history would have expired), so recovering from it gives the same answer as from Redis; a
 * client it cannot serve is served from Redis as before.
 *
 * Bounded: at most `perRoom` messages and bytes a room, `budget` bytes in all (the rooms with the
 * least recent messages are dropped first).
 */
export class RecentMessages {
  /** In order of their last message, least recent first. */
  private readonly rooms = new Map<string, RoomTail>();
  private total = 0;

  constructor(
    private readonly perRoom: TailLimit,
    private readonly budget: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * `message` was just delivered to its room's subscribers here. A message that does not follow
   * the room's last one (a new epoch, or after {@link forget}) starts the tail afresh.
   */
  add(message: RoomMessage): void {
    if (this.perRoom.messages <= 0) return;
    const { room, envelope } = message;
    const { offset, epoch } = envelope;
    if (offset === undefined || epoch === undefined) return;
    let tail = this.rooms.get(room);
    const follows =
      tail !== undefined &&
      tail.epoch === epoch &&
      tail.messages.at(-1)?.envelope.offset === offset - 1;
    if (tail !== undefined) this.rooms.delete(room);
    if (tail === undefined || !follows) {
      this.total -= tail?.bytes ?? 0;
      tail = { epoch, messages: [], sizes: [], bytes: 0, lastAt: 0 };
    }
    const size = message.bytes ?? JSON.stringify(envelope).length;
    tail.messages.push(message);
    tail.sizes.push(size);
    tail.bytes += size;
    tail.lastAt = this.now();
    this.total += size;
    while (
      tail.messages.length > this.perRoom.messages ||
      (tail.bytes > this.perRoom.bytes && tail.messages.length > 1)
    ) {
      tail.messages.shift();
      const dropped = tail.sizes.shift() ?? 0;
      tail.bytes -= dropped;
      this.total -= dropped;
    }
    this.rooms.set(room, tail);
    this.evict();
  }

  /** The room's delivery here broke off (no subscribers left, or a gap it could not fill). */
  forget(room: string): void {
    const tail = this.rooms.get(room);
    if (tail === undefined) return;
    this.total -= tail.bytes;
    this.rooms.delete(room);
  }

  /**
   * The messages after `since` when the tail reaches back to it (same epoch, nothing missing in
   * between), and the room's last offset here; `undefined` when it cannot tell.
   */
  after(room: string, since: RoomPosition): RecentSlice | undefined {
    const tail = this.rooms.get(room);
    if (tail === undefined || tail.epoch !== since.epoch) return undefined;
    if (this.now() - tail.lastAt > this.ttlMs) {
      // The history has expired in Redis by now: answer as it would.
      this.forget(room);
      return undefined;
    }
    const first = tail.messages[0]?.envelope.offset;
    const last = tail.messages.at(-1)?.envelope.offset;
    if (first === undefined || last === undefined) return undefined;
    if (since.offset < first - 1 || since.offset > last) return undefined;
    return {
      position: { offset: last, epoch: tail.epoch },
      messages: tail.messages.slice(since.offset - first + 1),
    };
  }

  /** How many bytes of messages are held, in all. */
  get bytes(): number {
    return this.total;
  }

  private evict(): void {
    for (const [room, tail] of this.rooms) {
      if (this.total <= this.budget) return;
      this.total -= tail.bytes;
      this.rooms.delete(room);
    }
  }
}
