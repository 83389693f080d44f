import { randomBytes } from 'node:crypto';

/**
 * Engine.IO session ids of the form `<nodeId>.<random>`.
 *
 * Every HTTP long-polling request and the WebSocket upgrade of a session carry `?sid=`; nginx reads
 * the node id in front of the dot and routes the request to the node that owns the session, so
 * stickiness needs no cookie, no client cooperation and no client IP (many clients behind one
 * NAT address still spread over all nodes).
 *
 * @param nodeId - this node's id (`[A-Za-z0-9_.-]`); must match the nginx routing map.
 */
export function createSessionIdGenerator(nodeId: string): () => string {
  return () => `${nodeId}.${randomBytes(15).toString('base64url')}`;
}

/** The node id a session id was issued by, or `undefined` for a foreign id. */
export function nodeIdOfSession(sessionId: string): string | undefined {
  const dot = sessionId.lastIndexOf('.');
  return dot > 0 ? sessionId.slice(0, dot) : undefined;
}
