import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { PushIo } from '../push-io.js';
import type { ShapeProblemListener } from './shape-problem.js';

const FILE = 'src/realtime/engine-internals/handshake-request-release.ts';

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

/** A listener registered with `once`, as `rawListeners()` returns it: a wrapper. */
type OnceWrapper = ((...args: unknown[]) => void) & { listener?: unknown };

/**
 * Lets every connection's HTTP request (its parsed headers, URL, query and parser state) and
 * Engine.IO's upgrade response shim be garbage-collected once the handshake is done, instead of
 * living as long as the connection (docs/performance.md has what it saves), and
 * trims `socket.handshake.headers` to {@link KEPT_HANDSHAKE_HEADERS}.
 *
 * Two references kept them:
 * - the Engine.IO socket's `request` (Socket.IO's documented memory saving drops it); it is
 *   dropped on Socket.IO's `connection`, after `socket.handshake` (headers, query, address) has
 *   been built and every connection middleware has seen it whole;
 * - in engine.io 6.6, `handleUpgrade` wraps each upgrade in a response shim whose constructor
 *   registers `socket.once("close", …)` on the TCP socket, so that Express-style middlewares can
 *   see the response close; for a WebSocket that socket lives as long as the connection, and the
 *   listener holds the shim and through it the request. That listener (the first `once("close")`
 *   registered while `handleUpgrade` runs) is removed. No Engine.IO middleware of this node
 *   listens for that response's `close`.
 *
 * Consequence: after the handshake `socket.request` is `null` and `socket.handshake.headers`
 * holds only {@link KEPT_HANDSHAKE_HEADERS}; a check that needs another header (a cookie, say)
 * belongs in a connection middleware, which still sees them all.
 *
 * The engine's shape is checked as it is used: `onProblem` hears of an upgrade that registered
 * no `once("close")` wrapper, of a WebSocket connection whose upgrade did not go through the
 * engine's `handleUpgrade` property, and of an Engine.IO socket without `request`.
 */
export function releaseHandshakeRequests(io: PushIo, onProblem: ShapeProblemListener): void {
  const engine = io.engine;
  const handleUpgrade = engine.handleUpgrade.bind(engine);
  /** Upgrade requests seen by the wrapper: a WebSocket connection's request must be one of them. */
  const upgraded = new WeakSet<IncomingMessage>();
  engine.handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    upgraded.add(req);
    const before = new Set(socket.rawListeners('close'));
    handleUpgrade(req, socket, head);
    const [shimListener] = socket
      .rawListeners('close')
      .filter((listener) => !before.has(listener)) as OnceWrapper[];
    // Only a `once` wrapper: ws's own `close` listener (added when the upgrade completes at once)
    // is a plain one, and must stay.
    if (shimListener !== undefined && typeof shimListener.listener === 'function') {
      socket.removeListener('close', shimListener);
    } else {
      onProblem({
        file: FILE,
        expected: 'engine.handleUpgrade() to register a socket.once("close") listener',
      });
    }
  };
  io.on('connection', (socket) => {
    const conn = socket.conn as { request?: IncomingMessage | null };
    if (conn.request === undefined || conn.request === null) {
      onProblem({ file: FILE, expected: 'the Engine.IO socket to hold its handshake `request`' });
    } else {
      if (socket.conn.transport.name === 'websocket' && !upgraded.has(conn.request)) {
        onProblem({
          file: FILE,
          expected: 'WebSocket upgrades to go through the engine.handleUpgrade property',
        });
      }
      conn.request = null;
    }
    const { headers } = socket.handshake;
    socket.handshake.headers = Object.fromEntries(
      KEPT_HANDSHAKE_HEADERS.flatMap((name) => (name in headers ? [[name, headers[name]]] : [])),
    );
  });
}
