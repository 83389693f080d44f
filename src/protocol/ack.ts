import type { ProtocolError } from './error-code.js';

/** A negative acknowledgement. */
export interface AckFailure {
  ok: false;
  error: ProtocolError;
}

/** The acknowledgement of `subscribe` / `unsubscribe`. */
export type RoomAck = { ok: true; room: string } | AckFailure;

/** The acknowledgement of `publish`. */
export type PublishAck = { ok: true; id: string } | AckFailure;

/** The acknowledgement of `refresh`: the new token's expiry (ms since the epoch). */
export type RefreshAck = { ok: true; expiresAt: number } | AckFailure;
