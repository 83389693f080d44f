import type { Envelope } from './envelope.js';
import type { ProtocolError } from './error-code.js';

/** A negative acknowledgement. */
export interface AckFailure {
  ok: false;
  error: ProtocolError;
}

/** A message a recovery hands over in its answer (`subscribe` with `batch`). */
export interface ReplayedMessage {
  event: string;
  envelope: Envelope;
}

/**
 * The acknowledgement of `subscribe` / `unsubscribe`. A subscribe says where the room stands
 * (`offset`, `epoch`; absent when the node cannot tell, e.g. Redis is down): every later message
 * of the room has a higher offset. A subscribe `since` a position says whether the node replayed
 * every message the client missed (`recovered: true`, replayed before this ack, or in its
 * `messages` when asked with `batch`) or could not (`recovered: false`: the history no longer
 * reaches back; reload the room's state).
 */
export type RoomAck =
  | {
      ok: true;
      room: string;
      offset?: number;
      epoch?: string;
      recovered?: boolean;
      messages?: ReplayedMessage[];
    }
  | AckFailure;

/**
 * What an accepted publish is answered with (the `publish` ack, `POST /api/publish`'s 202): its id
 * and, for a room message, its place in the room; `duplicate` when an earlier publish with the
 * same idempotency key was the one published (its id and place).
 */
export interface PublishReceipt {
  id: string;
  offset?: number;
  epoch?: string;
  duplicate?: true;
}

/** The acknowledgement of `publish`. */
export type PublishAck = ({ ok: true } & PublishReceipt) | AckFailure;

/** The acknowledgement of `presence`: the users in the room (each once, guests included). */
export type PresenceAck = { ok: true; room: string; users: string[] } | AckFailure;

/** The acknowledgement of `refresh`: the new token's expiry (ms since the epoch). */
export type RefreshAck = { ok: true; expiresAt: number } | AckFailure;
