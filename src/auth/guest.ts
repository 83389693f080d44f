import { randomBytes } from 'node:crypto';
import type { AuthConfig } from '../config/config.js';
import type { Identity } from './identity.js';
import { compileRoomPatterns, NO_ROOMS, type RoomPatterns } from './room-pattern.js';

/** Makes guest identities with the configured guest permissions (compiled once). */
export function guestIdentities(
  auth: Pick<AuthConfig, 'guestRooms' | 'guestPublish'>,
): () => Identity {
  const plainRooms: RoomPatterns = compileRoomPatterns(auth.guestRooms);
  const publish: RoomPatterns = compileRoomPatterns(auth.guestPublish);
  return () => ({
    userId: `guest-${randomBytes(9).toString('base64url')}`,
    guest: true,
    rooms: NO_ROOMS,
    publish,
    plainRooms,
    expiresAt: null,
    admin: false,
  });
}
