import type { ProtocolError, PublishReceipt } from '../protocol/index.js';

/**
 * What became of a {@link PushPublisher.publish}, as far as the cluster said:
 * - `published`: accepted (202), once: `receipt.duplicate` when a retry found it already published.
 * - `refused`: the cluster said no for good (bad input, wrong key, an idempotency conflict…);
 *   not published, not retried.
 * - `not_published`: the cluster could not take it (rate limited, no Redis, no node) for as long
 *   as the publisher kept trying; not published — send it again later.
 * - `unknown`: the last attempt's outcome is unknown (the node stopped with it, no answer); it
 *   may or may not have been published. Send it again later with the same `idempotencyKey` to
 *   publish it exactly once (a message to everyone has no key: it is at most once).
 */
export type PublishOutcome =
  | { status: 'published'; receipt: PublishReceipt; attempts: number; idempotencyKey?: string }
  | { status: 'refused'; error: ProtocolError; httpStatus: number; attempts: number }
  | { status: 'not_published'; error: ProtocolError; attempts: number; idempotencyKey?: string }
  | { status: 'unknown'; error: ProtocolError; attempts: number; idempotencyKey?: string };
