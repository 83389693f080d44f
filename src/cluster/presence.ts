/** A user arriving in a room (their first connection in it) or leaving it (their last). */
export interface PresenceChange {
  room: string;
  user: string;
  action: 'join' | 'leave';
}

/**
 * Who is in each presence room, cluster-wide: users, each counted once however many connections
 * (tabs, devices, nodes) they have in the room.
 */
export interface Presence {
  /** Counts one more connection of `user` in `room`; true when it is the user's first there. */
  join(room: string, user: string): Promise<boolean>;
  /** Counts one connection fewer; true when it was the user's last in `room`. */
  leave(room: string, user: string): Promise<boolean>;
  /** The users in `room`. */
  members(room: string): Promise<string[]>;
  /**
   * Calls `listener` for users who left because the node that held their connections died (found
   * within seconds of its liveness running out): the caller announces them.
   */
  onReaped(listener: (change: PresenceChange) => void): void;
  close(): Promise<void>;
}
