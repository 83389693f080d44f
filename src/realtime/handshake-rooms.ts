import { type HandshakeJoin, type HandshakeRoom, MAX_HANDSHAKE_ROOMS } from '../protocol/index.js';

/** Why a handshake's `auth.rooms` is refused (the connection's `connect_error` says it). */
export const HANDSHAKE_ROOMS_SHAPE = `auth.rooms must be an array of at most ${MAX_HANDSHAKE_ROOMS} { room: string, since?: { offset, epoch } }`;

/**
 * The rooms a connection asks to join in its handshake (`auth.rooms`): `undefined` when it asks
 * for none, `null` when the field is malformed (not an array, too long, an entry that is not
 * `{ room, since? }` with a string `room`). Each room's name and `since` are checked when it is
 * joined, and answered one by one as a `subscribe` is.
 */
export function handshakeRoomsOf(
  auth: Record<string, unknown>,
): HandshakeRoom[] | undefined | null {
  const rooms: unknown = auth.rooms;
  if (rooms === undefined) return undefined;
  if (!Array.isArray(rooms) || rooms.length > MAX_HANDSHAKE_ROOMS) return null;
  const asked: HandshakeRoom[] = [];
  for (const entry of rooms as unknown[]) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return null;
    const { room, since, ...rest } = entry as { room?: unknown; since?: unknown };
    if (typeof room !== 'string' || Object.keys(rest).length > 0) return null;
    // A room asked twice is joined (and answered) once: one replay per room in the welcome.
    if (asked.some((earlier) => earlier.room === room)) continue;
    // `since` is the subscribe option's, checked as such when the room is joined.
    asked.push(since === undefined ? { room } : ({ room, since } as HandshakeRoom));
  }
  return asked;
}

/**
 * The handshake answers one `welcome` carries: in order, while what they replay stays within
 * `budget` messages (the first answer always goes, whatever it replays, as its `subscribe` would
 * have). A room past the budget is left unanswered: the node has joined it, and the client
 * subscribes it `since` where it stands, which replays what it missed in an answer of its own. One
 * welcome thus never carries twenty rooms' whole histories in one packet.
 */
export function withinReplayBudget(
  joins: readonly HandshakeJoin[],
  budget: number,
): HandshakeJoin[] {
  let left = budget;
  let first = true;
  return joins.filter(({ ack }) => {
    const replayed = ack.ok ? (ack.messages?.length ?? 0) : 0;
    if (replayed === 0) return true;
    const fits = first || replayed <= left;
    first = false;
    if (fits) left -= replayed;
    return fits;
  });
}
