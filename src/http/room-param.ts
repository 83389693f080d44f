import { roomNameSchema } from '../delivery/room-name.js';
import { ErrorCode } from '../protocol/index.js';
import { HttpError } from './http-error.js';

/** The `:room` of a route as a valid room name, or the 400 `invalid_room` that says why not. */
export function roomParam(value: unknown): string | HttpError {
  const room = roomNameSchema.safeParse(value);
  return room.success
    ? room.data
    : new HttpError(400, ErrorCode.InvalidRoom, room.error.issues[0]?.message ?? 'invalid room');
}
