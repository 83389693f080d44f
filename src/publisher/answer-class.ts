import { ErrorCode, type ProtocolError, type PublishReceipt } from '../protocol/index.js';

/**
 * What one answer to `POST /api/publish` means for the publisher:
 * - `accepted`: published (202).
 * - `refused`: a final no (bad input, wrong key, idempotency conflict): never sent again.
 * - `busy`: not published, but it may be later (429 rate limited, 503 no Redis or no node, a
 *   connection refused): sent again after `retryAfterMs` or a backoff.
 * - `unknown`: maybe published (502/503 `outcome_unknown`, a 500, a request cut off or timed
 *   out): sent again only under the same idempotency key.
 */
export type AnswerClass =
  | { kind: 'accepted'; receipt: PublishReceipt }
  | { kind: 'refused'; error: ProtocolError; httpStatus: number }
  | { kind: 'busy'; error: ProtocolError; retryAfterMs?: number }
  | { kind: 'unknown'; error: ProtocolError; retryAfterMs?: number };

/** An answer worth another attempt. */
export type Retryable = Extract<AnswerClass, { kind: 'busy' | 'unknown' }>;

/** Classifies an HTTP answer from its status, its `Retry-After` header and its JSON body. */
export function classifyAnswer(
  httpStatus: number,
  retryAfter: string | null,
  body: unknown,
): AnswerClass {
  if (httpStatus === 202) return { kind: 'accepted', receipt: body as PublishReceipt };
  const error = errorOf(httpStatus, body);
  const retryAfterMs = retryAfterMsOf(retryAfter);
  const delay = retryAfterMs === undefined ? {} : { retryAfterMs };
  if (error.code === ErrorCode.OutcomeUnknown || httpStatus === 500) {
    return { kind: 'unknown', error, ...delay };
  }
  if (httpStatus === 429 || httpStatus === 502 || httpStatus === 503 || httpStatus === 504) {
    return { kind: 'busy', error, ...delay };
  }
  return { kind: 'refused', error, httpStatus };
}

/**
 * Classifies a request that got no answer: refused at connect (nothing was sent: `busy`), or
 * cut off or timed out after it may have arrived (`unknown`).
 */
export function classifyFailure(failure: unknown): Retryable {
  const cause =
    failure instanceof Error ? (failure.cause as { code?: unknown } | undefined) : undefined;
  const message = failure instanceof Error ? failure.message : String(failure);
  if (cause?.code === 'ECONNREFUSED') {
    return {
      kind: 'busy',
      error: { code: ErrorCode.Unavailable, message: `connection refused: ${message}` },
    };
  }
  return {
    kind: 'unknown',
    error: { code: ErrorCode.OutcomeUnknown, message: `no answer: ${message}` },
  };
}

/** The body's `{ error: { code, message } }`, or one made up from the status. */
export function errorOf(httpStatus: number, body: unknown): ProtocolError {
  const error = (body as { error?: Partial<ProtocolError> } | null | undefined)?.error;
  if (typeof error?.code === 'string' && typeof error.message === 'string') {
    return { code: error.code, message: error.message };
  }
  return {
    code: httpStatus >= 500 ? ErrorCode.Internal : ErrorCode.BadRequest,
    message: `HTTP ${httpStatus} without an error body`,
  };
}

/** `Retry-After` in ms: seconds (`"2"`) or an HTTP date; `undefined` when absent or unreadable. */
export function retryAfterMsOf(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
