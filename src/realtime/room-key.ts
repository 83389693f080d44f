/**
 * Socket.IO puts every socket in a room named after its own id. Subscriber rooms live under a
 * prefix that no socket id can carry (socket ids never contain `:` followed by this word), so a
 * client subscribing to a room named like someone's socket id never receives that socket's
 * private traffic.
 */
const ROOM_PREFIX = 'room:';

/** The adapter-level room that holds the subscribers of the public room `name`. */
export function roomKey(name: string): string {
  return ROOM_PREFIX + name;
}

/** The public room name held in an adapter room key, or `undefined` for another kind of room. */
export function roomOfKey(key: string): string | undefined {
  return key.startsWith(ROOM_PREFIX) ? key.slice(ROOM_PREFIX.length) : undefined;
}
