import type { ErrorCode } from '../protocol/index.js';

/**
 * Why a {@link PushPublisher} read (`history`, `presence`, `cluster`) failed: the cluster's
 * `{ code, message }` and the HTTP status, or `outcome_unknown` / `unavailable` with status 0
 * when no answer came in time.
 */
export class PublisherError extends Error {
  override readonly name = 'PublisherError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly httpStatus: number,
  ) {
    super(message);
  }
}
