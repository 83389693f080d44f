import type { Server as HttpServer } from 'node:http';
import { Server, type ServerOptions } from 'socket.io';
import { createSessionIdGenerator } from '../cluster/session-id.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { SOCKET_PATH } from '../protocol/index.js';
import { describeShapeProblem, patchEngineInternals } from './engine-internals/index.js';
import type { PushIo } from './push-io.js';

/**
 * Room for Socket.IO framing around a maximal publish request, so that a request just over
 * `MAX_PAYLOAD_BYTES` gets a `payload_too_large` ack instead of a closed connection.
 */
const PACKET_OVERHEAD_BYTES = 16 * 1024;

/**
 * Creates the node's Socket.IO server, not yet attached to a port, so that the adapter and the
 * publisher can be wired before any client arrives.
 */
export function createSocketServer(config: Config): PushIo {
  return new Server({
    path: SOCKET_PATH,
    serveClient: false,
    maxHttpBufferSize: config.maxPayloadBytes + PACKET_OVERHEAD_BYTES,
    ...corsOption(config.corsOrigins),
  });
}

/**
 * Attaches `io` to `httpServer` (whose own request handler keeps serving every other path) and
 * sets up its engine: node-stamped session ids for nginx routing, `X-Node-Id` on the WebSocket
 * upgrade response, a log line for every refused connection, and the patches of the engine's
 * internals that make each connection cheaper (`engine-internals/`).
 */
export function attachSocketServer(
  io: PushIo,
  httpServer: HttpServer,
  config: Config,
  logger: Logger,
): void {
  io.attach(httpServer);
  io.engine.generateId = createSessionIdGenerator(config.nodeId);
  io.engine.on('headers', (headers: Record<string, string>) => {
    headers['X-Node-Id'] = config.nodeId;
  });
  io.engine.on('connection_error', (error: { code: number; message: string }) => {
    logger.warn({ code: error.code, reason: error.message }, 'engine.io connection refused');
  });
  // Each distinct problem is logged once, not once per connection.
  const reported = new Set<string>();
  patchEngineInternals(io, (problem) => {
    const line = describeShapeProblem(problem);
    if (reported.has(line)) return;
    reported.add(line);
    logger.warn({ file: problem.file }, line);
  });
}

function corsOption(origins: Config['corsOrigins']): Pick<Partial<ServerOptions>, 'cors'> {
  if (origins === '*') return { cors: { origin: '*' } };
  if (origins.length === 0) return {};
  return { cors: { origin: [...origins] } };
}
