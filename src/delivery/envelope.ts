import { randomUUID } from 'node:crypto';
import type { Envelope } from '../protocol/index.js';

/**
 * Wraps a payload for delivery: a fresh unique id, the origin node and the acceptance time.
 *
 * @param node - the id of the node accepting the publish.
 * @param room - the target room, or `null` for everyone.
 * @param data - the application payload.
 * @param now - clock, injectable for tests.
 */
export function createEnvelope<T>(
  node: string,
  room: string | null,
  data: T,
  now: () => number = Date.now,
): Envelope<T> {
  return { id: randomUUID(), room, data, node, ts: now() };
}
