import { randomBytes } from 'node:crypto';
import type { HistoryConfig } from '../../config/config.js';
import {
  type Envelope,
  IDEMPOTENCY_WINDOW_SECONDS,
  type RoomPosition,
} from '../../protocol/index.js';
import type {
  AppendResult,
  HistorySlice,
  IdempotencyGuard,
  RoomLog,
  RoomMessage,
} from '../room-log.js';

interface RoomState {
  epoch: string;
  offset: number;
  /** The history, oldest first, at most `size` messages. */
  messages: RoomMessage[];
  /** When the history is forgotten (ms since the epoch), as Redis would expire the stream. */
  historyExpiresAt: number;
  /** When the epoch and offset are forgotten, as Redis would expire the room's hash. */
  expiresAt: number;
}

/** What an idempotency key stands for, until it expires. */
interface IdempotencyRecord {
  id: string;
  position: RoomPosition;
  fingerprint: string;
  expiresAt: number;
}

/**
 * The room log of a single node (no Redis): the same offsets, epochs, history bounds and expiries
 * as the Redis log, in this process. Messages reach the node's listeners in a microtask, after
 * `append` has given them their offset, so that delivery follows the same path as in a cluster.
 */
export class MemoryRoomLog implements RoomLog {
  private readonly rooms = new Map<string, RoomState>();
  /** Idempotency records by room and key (`room key`: room names have no spaces). */
  private readonly appendedUnder = new Map<string, IdempotencyRecord>();
  private readonly listeners: Array<(message: RoomMessage) => void> = [];
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly history: HistoryConfig,
    private readonly now: () => number = Date.now,
  ) {
    // Rooms nobody publishes to any more are forgotten, as their Redis keys would expire.
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  async append(
    room: string,
    event: string,
    envelope: Envelope,
    guard?: IdempotencyGuard,
  ): Promise<AppendResult> {
    const recordKey = guard === undefined ? undefined : `${room} ${guard.key}`;
    const seen = recordKey === undefined ? undefined : this.appendedUnder.get(recordKey);
    if (seen !== undefined && seen.expiresAt > this.now()) {
      if (seen.fingerprint !== guard?.fingerprint) return { kind: 'conflict' };
      return { kind: 'duplicate', id: seen.id, position: seen.position };
    }
    const state = this.state(room);
    state.offset += 1;
    const message: RoomMessage = {
      room,
      event,
      envelope: { ...envelope, offset: state.offset, epoch: state.epoch },
    };
    if (this.history.size > 0) {
      state.messages.push(message);
      if (state.messages.length > this.history.size) state.messages.shift();
    }
    state.historyExpiresAt = this.now() + this.history.ttlSeconds * 1000;
    state.expiresAt = this.now() + this.history.metaTtlSeconds * 1000;
    queueMicrotask(() => {
      for (const listener of this.listeners) listener(message);
    });
    const position = { offset: state.offset, epoch: state.epoch };
    if (recordKey !== undefined && guard !== undefined) {
      this.appendedUnder.set(recordKey, {
        id: envelope.id,
        position,
        fingerprint: guard.fingerprint,
        expiresAt: this.now() + IDEMPOTENCY_WINDOW_SECONDS * 1000,
      });
    }
    return { kind: 'appended', position };
  }

  async position(room: string): Promise<RoomPosition> {
    const { offset, epoch } = this.state(room);
    return { offset, epoch };
  }

  async read(room: string, after: number, limit: number): Promise<HistorySlice> {
    const state = this.state(room);
    const oldest = state.messages[0]?.envelope.offset ?? state.offset + 1;
    const messages = state.messages
      .filter((message) => (message.envelope.offset ?? 0) > after)
      .slice(0, limit);
    return {
      position: { offset: state.offset, epoch: state.epoch },
      messages,
      oldestOffset: oldest,
    };
  }

  follow(_room: string): undefined {
    // One process: every message is this node's.
    return undefined;
  }

  unfollow(_room: string): void {}

  onMessage(listener: (message: RoomMessage) => void): void {
    this.listeners.push(listener);
  }

  onResync(_listener: () => void): void {
    // In one process the feed is never cut.
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  /**
   * The room's state, started afresh (a new epoch) when it never existed or has expired, its
   * history emptied once that has expired.
   */
  private state(room: string): RoomState {
    const now = this.now();
    const known = this.rooms.get(room);
    if (known !== undefined && known.expiresAt > now) {
      if (known.historyExpiresAt <= now) known.messages = [];
      return known;
    }
    const fresh: RoomState = {
      epoch: randomBytes(9).toString('base64url'),
      offset: 0,
      messages: [],
      historyExpiresAt: now,
      // As a read in Redis creates the room's hash with its expiry.
      expiresAt: now + this.history.metaTtlSeconds * 1000,
    };
    this.rooms.set(room, fresh);
    return fresh;
  }

  private sweep(): void {
    const now = this.now();
    for (const [room, state] of this.rooms) {
      if (state.expiresAt <= now) this.rooms.delete(room);
      else if (state.historyExpiresAt <= now) state.messages = [];
    }
    for (const [key, record] of this.appendedUnder) {
      if (record.expiresAt <= now) this.appendedUnder.delete(key);
    }
  }
}
