import type { RoomPatterns } from '../auth/room-pattern.js';
import type { Presence, PresenceChange } from '../cluster/presence.js';
import type { Logger } from '../observability/logger.js';
import type { PushIo, PushSocket } from './push-io.js';
import { roomKey, roomOfKey } from './room-key.js';

/**
 * Presence for the rooms `PRESENCE_ROOMS` names: counts each subscriber in and out, and tells a
 * room's members when a user arrives (their first connection there, cluster-wide) or leaves
 * (their last), including users whose node died (reaped by the presence store).
 */
export class RoomPresence {
  constructor(
    private readonly io: PushIo,
    private readonly presence: Presence,
    private readonly rooms: RoomPatterns,
    private readonly logger: Logger,
  ) {
    presence.onReaped((change) => this.announce(change));
  }

  /** Whether any room tracks presence. */
  get active(): boolean {
    return this.rooms.source.length > 0;
  }

  /** Whether `room` tracks presence. */
  enabled(room: string): boolean {
    return this.rooms.matches(room);
  }

  /** The users in `room`. */
  members(room: string): Promise<string[]> {
    return this.presence.members(room);
  }

  /** `socket` just joined `room` (it was not in it before). */
  entered(socket: PushSocket, room: string): void {
    if (!this.enabled(room)) return;
    const user = socket.data.identity.userId;
    this.presence.join(room, user).then(
      (first) => {
        if (first) this.announce({ room, user, action: 'join' });
      },
      (error: unknown) => this.logger.warn({ err: error, room, user }, 'presence join failed'),
    );
  }

  /** `socket` left `room` (it was in it). */
  left(socket: PushSocket, room: string): void {
    if (!this.enabled(room)) return;
    const user = socket.data.identity.userId;
    this.presence.leave(room, user).then(
      (last) => {
        if (last) this.announce({ room, user, action: 'leave' });
      },
      (error: unknown) => this.logger.warn({ err: error, room, user }, 'presence leave failed'),
    );
  }

  /** `socket` is disconnecting: it leaves every presence room it was in. */
  leftAll(socket: PushSocket): void {
    for (const key of socket.rooms) {
      const room = roomOfKey(key);
      if (room !== undefined) this.left(socket, room);
    }
  }

  private announce(change: PresenceChange): void {
    this.io.to(roomKey(change.room)).emit('presence', change);
  }
}
