/** Room names: 1–128 characters of letters, digits and `:_.-`. */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9:_.-]{1,128}$/;

/** Event names: 1–64 characters of letters, digits and `:_.-`. */
export const EVENT_NAME_PATTERN = /^[A-Za-z0-9:_.-]{1,64}$/;

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
]);

/** How many rooms one connection may be subscribed to at once. */
export const MAX_ROOMS_PER_CONNECTION = 1000;
