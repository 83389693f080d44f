import { PRIVATE_ROOM_PREFIX, USER_ROOM_PREFIX } from '../protocol/index.js';
import type { Identity } from './identity.js';

/** The three kinds of room, by name. */
export type RoomKind = 'private' | 'user' | 'plain';

/** `private:…` rooms need a grant, `user:…` rooms belong to one user, the rest are plain. */
export function roomKind(room: string): RoomKind {
  if (room.startsWith(PRIVATE_ROOM_PREFIX)) return 'private';
  if (room.startsWith(USER_ROOM_PREFIX)) return 'user';
  return 'plain';
}

/** The room every connection of `userId` joins. */
export function userRoom(userId: string): string {
  return `${USER_ROOM_PREFIX}${userId}`;
}

/**
 * May `identity` subscribe to `room`?
 * - a plain room: yes (a guest only when `GUEST_ROOMS` matches it);
 * - `private:…`: only when the token's `rooms` claim matches it (never a guest);
 * - `user:<id>`: only one's own (never a guest).
 */
export function canSubscribe(identity: Identity, room: string): boolean {
  switch (roomKind(room)) {
    case 'plain':
      return identity.plainRooms === undefined || identity.plainRooms.matches(room);
    case 'private':
      return !identity.guest && identity.rooms.matches(room);
    case 'user':
      return !identity.guest && room === userRoom(identity.userId);
  }
}

/**
 * May `identity` publish to `room` (`null`: everyone)? Only where its `publish` patterns match;
 * to everyone only with `*`. Guests never publish to private or user rooms, or to everyone,
 * whatever `GUEST_PUBLISH` says.
 */
export function canPublish(identity: Identity, room: string | null): boolean {
  if (room === null) return !identity.guest && identity.publish.any;
  if (identity.guest && roomKind(room) !== 'plain') return false;
  return identity.publish.matches(room);
}
