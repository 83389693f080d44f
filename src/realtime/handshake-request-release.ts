import { type IncomingMessage, ServerResponse } from 'node:http';
import type { PushIo } from './push-io.js';

/**
 * What Engine.IO hands its middlewares as the response of a WebSocket upgrade: not a
 * `ServerResponse` but a shim that keeps the upgrade request in `req`.
 */
interface UpgradeResponse {
  req: IncomingMessage | null;
}

/**
 * The request headers `socket.handshake.headers` keeps after the handshake: who the client is
 * (behind nginx) and where it came from. The rest (cookies above all, which browsers send with
 * the handshake) would be held for the connection's life with no use.
 */
export const KEPT_HANDSHAKE_HEADERS = [
  'origin',
  'user-agent',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-real-ip',
] as const;

/**
 * Lets every connection's HTTP request (its parsed headers, URL, query and parser state, about
 * 2 KB of heap) be garbage-collected once the Socket.IO handshake has been built from it, instead
 * of living as long as the connection, and trims `socket.handshake.headers` to
 * {@link KEPT_HANDSHAKE_HEADERS}.
 *
 * Two references keep it:
 * - the Engine.IO socket's `request` (Socket.IO's documented memory saving drops it); it is
 *   dropped on Socket.IO's `connection`, after `socket.handshake` (headers, query, address) has
 *   been built and every connection middleware has seen it whole;
 * - the upgrade response shim, whose `close` listener on the TCP socket holds it for the whole
 *   life of a WebSocket connection (engine.io 6.6); its `req` is dropped when the 101 response
 *   headers are written, after every middleware and the handshake checks have run.
 *
 * Consequence: after the handshake `socket.request` is `null` and `socket.handshake.headers`
 * holds only {@link KEPT_HANDSHAKE_HEADERS}; a check that needs another header (a cookie, say)
 * belongs in a connection middleware, which still sees them all.
 */
export function releaseHandshakeRequests(io: PushIo): void {
  const upgrades = new WeakMap<IncomingMessage, UpgradeResponse>();
  io.engine.use((req: IncomingMessage, res: ServerResponse, next: (error?: Error) => void) => {
    // The shim is not a ServerResponse; nothing else tells an upgrade's response apart.
    if (!(res instanceof ServerResponse)) upgrades.set(req, res as unknown as UpgradeResponse);
    next();
  });
  // Emitted for every successful handshake or upgrade, while the response headers are written.
  io.engine.on('headers', (_headers: Record<string, string>, req: IncomingMessage) => {
    const res = upgrades.get(req);
    if (res === undefined) return;
    res.req = null;
    upgrades.delete(req);
  });
  io.on('connection', (socket) => {
    (socket.conn as { request: IncomingMessage | null }).request = null;
    const { headers } = socket.handshake;
    socket.handshake.headers = Object.fromEntries(
      KEPT_HANDSHAKE_HEADERS.flatMap((name) => (name in headers ? [[name, headers[name]]] : [])),
    );
  });
}
