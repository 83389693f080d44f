import type { ErrorCode, ProtocolError } from '../protocol/index.js';

/** Codes a {@link PushError} may carry: the server's, plus those raised by the client itself. */
export type PushErrorCode = ErrorCode | 'timeout' | 'closed' | 'unsubscribed';

/**
 * Why a `subscribe`, `unsubscribe` or `publish` failed: the server's `{ code, message }`, or
 * `timeout` (no acknowledgement in time), `closed` (the client was closed) or `unsubscribed` (a
 * `subscribe` overtaken by `unsubscribe`).
 */
export class PushError extends Error {
  override readonly name = 'PushError';

  /**
   * @param code - machine-readable reason, e.g. `invalid_room`.
   * @param message - human-readable reason, as the server phrased it.
   */
  constructor(
    readonly code: PushErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** Builds the error from a negative acknowledgement. */
  static from(error: ProtocolError): PushError {
    return new PushError(error.code, error.message);
  }
}
