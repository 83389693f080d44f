import type { RoomPatterns } from './room-pattern.js';

/** Who a connection is, and what it may do: from a verified token, or a guest's. */
export interface Identity {
  /** The user id: the token's `sub`, or `guest-<random>`. */
  userId: string;
  /** True for a connection without a token. */
  guest: boolean;
  /** Private rooms (`private:*`) it may subscribe to; plain rooms need no grant. */
  rooms: RoomPatterns;
  /** Rooms it may publish to (`*` also allows publishing to everyone). */
  publish: RoomPatterns;
  /** For guests: the plain rooms they may subscribe to (`GUEST_ROOMS`); `undefined`: any. */
  plainRooms: RoomPatterns | undefined;
  /** When the token expires (ms since the epoch); `null` for guests, who have no token. */
  expiresAt: number | null;
  /** The token's `admin` claim: it may read the admin endpoints (`/api/cluster`, `/metrics`). */
  admin: boolean;
}
