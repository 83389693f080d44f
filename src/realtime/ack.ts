import type { AckFailure } from '../protocol/index.js';
import { ErrorCode, type ProtocolError } from '../protocol/index.js';

/** An acknowledgement callback taken from untrusted arguments; a no-op when the client sent none. */
export type Reply<T> = (result: T) => void;

/**
 * Finds the acknowledgement callback among an event's arguments: Socket.IO passes it last, and a
 * client may omit it (then replies go nowhere) or send too few arguments.
 */
export function replyOf<T>(args: readonly unknown[]): Reply<T> {
  const last = args.at(-1);
  return typeof last === 'function' ? (result: T) => last(result) : () => {};
}

/** A negative acknowledgement. */
export function ackFailure(code: ErrorCode, message: string): AckFailure {
  return { ok: false, error: { code, message } satisfies ProtocolError };
}

/** The negative acknowledgement for an unexpected server-side failure. */
export const INTERNAL_FAILURE: AckFailure = ackFailure(
  ErrorCode.Internal,
  'internal error; the request was not processed',
);
