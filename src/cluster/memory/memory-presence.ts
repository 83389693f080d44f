import type { Presence, PresenceChange } from '../presence.js';

/** Presence in this process, for a single node. */
export class MemoryPresence implements Presence {
  private readonly rooms = new Map<string, Map<string, number>>();

  async join(room: string, user: string): Promise<boolean> {
    let users = this.rooms.get(room);
    if (users === undefined) {
      users = new Map();
      this.rooms.set(room, users);
    }
    const count = (users.get(user) ?? 0) + 1;
    users.set(user, count);
    return count === 1;
  }

  async leave(room: string, user: string): Promise<boolean> {
    const users = this.rooms.get(room);
    const count = (users?.get(user) ?? 0) - 1;
    if (users === undefined || count < 0) return false;
    if (count > 0) {
      users.set(user, count);
      return false;
    }
    users.delete(user);
    if (users.size === 0) this.rooms.delete(room);
    return true;
  }

  async members(room: string): Promise<string[]> {
    return [...(this.rooms.get(room)?.keys() ?? [])];
  }

  onReaped(_listener: (change: PresenceChange) => void): void {
    // One process: no other node can die under it.
  }

  async close(): Promise<void> {}
}
