import type { Identity } from '../auth/identity.js';

/** What a node keeps per connection (`socket.data`), set when the connection is admitted. */
export interface ConnectionState {
  /** Who the connection is and what it may do; replaced by a `refresh`. */
  identity: Identity;
  /** Client events it may still send at once (a token bucket: refills at the configured rate). */
  tokens: number;
  /** When `tokens` was last refilled (ms, monotonic). */
  refilledAt: number;
  /** Events refused in a row for the rate; past the burst, the connection is cut. */
  refusedInRow: number;
}
