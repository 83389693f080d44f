import type { Envelope, RoomPosition } from '../protocol/index.js';

/** A room message as every node receives it: its room, event name and envelope (with offset). */
export interface RoomMessage {
  room: string;
  event: string;
  envelope: Envelope;
  /** The length of its JSON text, when the log read it as text (from Redis). */
  bytes?: number;
}

/**
 * What makes an append idempotent: its key, and a fingerprint of the message (event and data) so
 * that the key's reuse for another message is told apart from a retry.
 */
export interface IdempotencyGuard {
  key: string;
  fingerprint: string;
}

/**
 * The outcome of {@link RoomLog.append}: appended at `position`; a `duplicate` of the message
 * appended earlier under the same idempotency key (its id and place); or a `conflict` (the key
 * stands for another message).
 */
export type AppendResult =
  | { kind: 'appended'; position: RoomPosition }
  | { kind: 'duplicate'; id: string; position: RoomPosition }
  | { kind: 'conflict' };

/** A stretch of a room's history, and where the room stands. */
export interface HistorySlice {
  /** The room's last offset and its epoch, as of the read. */
  position: RoomPosition;
  /** Messages after the offset asked for, oldest first, at most the limit asked for. */
  messages: RoomMessage[];
  /**
   * The offset of the oldest message the history still holds; `position.offset + 1` when it
   * holds none (nothing published yet, history off, trimmed or expired).
   */
  oldestOffset: number;
}

/**
 * Each room's ordered log: one order per room for every node, and a bounded history to recover
 * from. Appending assigns the message its offset and hands it to every node (the origin too),
 * in offset order; a node delivers a room's messages only as the log hands them over.
 */
export interface RoomLog {
  /**
   * Appends `envelope` (without offset or epoch) to `room`'s log and sends it to every node.
   * Resolves once the log holds it, with its place. With a `guard`, the room remembers the key
   * for `IDEMPOTENCY_WINDOW_SECONDS`, and a second append under it appends nothing.
   */
  append(
    room: string,
    event: string,
    envelope: Envelope,
    guard?: IdempotencyGuard,
  ): Promise<AppendResult>;
  /** Where `room` stands now (offset 0 in a fresh epoch for a room without messages). */
  position(room: string): Promise<RoomPosition>;
  /** Up to `limit` messages of `room` with offsets above `after`, and where the room stands. */
  read(room: string, after: number, limit: number): Promise<HistorySlice>;
  /**
   * Starts receiving `room`'s messages on this node (a node receives only the rooms it follows,
   * where the backend can tell rooms apart). Idempotent.
   *
   * @returns `undefined` when this node already receives them (or cannot for now: the backend is
   * away, it follows once back, and {@link onResync} says so); otherwise a promise that resolves
   * once it does: every message appended after that reaches {@link onMessage}'s listeners. It
   * rejects when the backend cannot be reached (the room is then not followed: ask again).
   */
  follow(room: string): Promise<void> | undefined;
  /** Stops receiving `room`'s messages (its last subscriber here left). Idempotent. */
  unfollow(room: string): void;
  /**
   * Calls `listener` with every message of the rooms this node follows, in each room's offset
   * order (a message of a room just unfollowed may still come).
   */
  onMessage(listener: (message: RoomMessage) => void): void;
  /**
   * Calls `listener` when the live feed may have missed messages (it was cut and came back): the
   * node then fetches from the history what its subscribers have not had.
   */
  onResync(listener: () => void): void;
  /** Stops receiving; releases connections the log opened itself. */
  close(): Promise<void>;
}

/**
 * Whether a slice continues right after `since`: same epoch, and the history reaches back to the
 * first message after it. (A client at the room's last offset has missed nothing.)
 */
export function continuesFrom(slice: HistorySlice, since: RoomPosition): boolean {
  const { position, oldestOffset } = slice;
  return (
    since.epoch === position.epoch &&
    since.offset <= position.offset &&
    (since.offset === position.offset || oldestOffset <= since.offset + 1)
  );
}
