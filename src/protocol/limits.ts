/** Room names: 1–128 characters of letters, digits and `:_.-`. */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9:_.-]{1,128}$/;

/** Event names: 1–64 characters of letters, digits and `:_.-`. */
export const EVENT_NAME_PATTERN = /^[A-Za-z0-9:_.-]{1,64}$/;

/**
 * Room patterns, as tokens (`rooms`, `publish` claims) and `GUEST_ROOMS` / `GUEST_PUBLISH` write
 * them: an exact room name, a prefix followed by `*` (`chat:*`), or `*` alone (any room).
 */
export const ROOM_PATTERN_SYNTAX = /^(?:\*|[A-Za-z0-9:_.-]{1,128}\*?)$/;

/** Rooms only a token's `rooms` claim opens: `private:<name>`. */
export const PRIVATE_ROOM_PREFIX = 'private:';

/** Each user's own room, `user:<sub>`, which every connection of that user joins. */
export const USER_ROOM_PREFIX = 'user:';

/** User ids (`sub`): they name the user's room, so they keep to the room name alphabet. */
export const USER_ID_PATTERN = /^[A-Za-z0-9:_.-]{1,123}$/;

/**
 * Event names a publish request may not use: Socket.IO's reserved names (emitting them throws)
 * and the server's own events (a client must not be able to spoof them).
 */
export const RESERVED_EVENT_NAMES: ReadonlySet<string> = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
  'welcome',
  'goodbye',
  'presence',
  'unsubscribed',
]);

/** How deep `data` may nest (arrays and objects): deeper JSON is refused as `invalid_data`. */
export const MAX_DATA_DEPTH = 64;

/** Idempotency keys: 1–128 visible ASCII characters (a UUID, a database id, `order-42:shipped`). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** How long a room remembers an idempotency key: a retry within it is not published again. */
export const IDEMPOTENCY_WINDOW_SECONDS = 600;

/** How many rooms one connection may be subscribed to at once. */
export const MAX_ROOMS_PER_CONNECTION = 1000;

/**
 * Rooms a connection may ask to join in its handshake (`auth.rooms`): each counts as one event
 * of its budget, and a client with more subscribes the rest as usual.
 */
export const MAX_HANDSHAKE_ROOMS = 20;
