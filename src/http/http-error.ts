import { ErrorCode } from '../protocol/index.js';

/** An error that becomes an HTTP response `status` with body `{ error: { code, message } }`. */
export class HttpError extends Error {
  /**
   * @param status - the HTTP status code.
   * @param code - the protocol error code.
   * @param message - a human-readable reason, sent to the client.
   */
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The 503 of a route that needs Redis while the node cannot reach it. */
export function busUnreachable(): HttpError {
  return new HttpError(503, ErrorCode.Unavailable, 'the cluster bus is unreachable; retry later');
}
