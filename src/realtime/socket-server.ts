import type {
  Server as HttpServer,
  IncomingMessage,
  RequestListener,
  ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { type ServerOptions as EngineOptions, Server as EngineServer } from 'engine.io';
import { Server } from 'socket.io';
import { createSessionIdGenerator } from '../cluster/session-id.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import type { NodeMetrics } from '../observability/metrics.js';
import { ErrorCode, SOCKET_PATH } from '../protocol/index.js';
import {
  describeShapeProblem,
  type EngineShapeProblem,
  patchEngineInternals,
} from './engine-internals/index.js';
import type { PushIo } from './push-io.js';
import { guardSlowConsumers } from './slow-consumer-guard.js';

/**
 * Room for Socket.IO framing around a maximal publish request, so that a request just over
 * `MAX_PAYLOAD_BYTES` gets a `payload_too_large` ack instead of a closed connection.
 */
const PACKET_OVERHEAD_BYTES = 16 * 1024;

/**
 * Creates the node's Socket.IO server and its Engine.IO engine, not yet reachable, so that the
 * adapter, the middleware and the publisher can be wired before any client arrives.
 */
export function createSocketServer(config: Config): PushIo {
  const io: PushIo = new Server({ serveClient: false });
  const engineOptions: Partial<EngineOptions> = {
    maxHttpBufferSize: config.maxPayloadBytes + PACKET_OVERHEAD_BYTES,
    ...corsOption(config.corsOrigins),
  };
  io.bind(new EngineServer(engineOptions));
  return io;
}

/**
 * Serves `io` on `httpServer`, and everything else with `fallback` (the HTTP app). Requests under
 * `/socket.io/` go to the engine, except new handshakes while the node holds `MAX_CONNECTIONS`
 * connections: those get 503 `too_many_connections` with `Retry-After`, so that nginx tries
 * another node. The engine also gets node-stamped session ids for nginx routing, `X-Node-Id` on
 * the WebSocket upgrade response, a log line for every refused connection, the patches of its
 * internals that make each connection cheaper (`engine-internals/`), and the guard against slow
 * consumers.
 *
 * @returns a function that stops the background work (the slow-consumer guard).
 */
export function attachSocketServer(
  io: PushIo,
  httpServer: HttpServer,
  fallback: RequestListener,
  config: Config,
  metrics: NodeMetrics,
  logger: Logger,
  draining: () => boolean,
): () => void {
  const engine = io.engine;
  /** Why a new session is refused here (nginx then tries another node), if it is. */
  const refusal = (req: IncomingMessage): string | undefined => {
    if (!isHandshake(req)) return undefined;
    if (draining()) return DRAINING_BODY;
    const max = config.limits.maxConnections;
    return max > 0 && engine.clientsCount >= max ? FULL_BODY : undefined;
  };

  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const refused = isEnginePath(req) ? refusal(req) : undefined;
    if (!isEnginePath(req)) {
      fallback(req, res);
    } else if (refused !== undefined) {
      refuse(res, refused);
    } else {
      engine.handleRequest(req, res);
    }
  });
  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const refused = isEnginePath(req) ? refusal(req) : undefined;
    if (!isEnginePath(req)) {
      socket.destroy();
    } else if (refused !== undefined) {
      refuseUpgrade(socket, refused, config.nodeId);
    } else {
      engine.handleUpgrade(req, socket, head);
    }
  });

  engine.generateId = createSessionIdGenerator(config.nodeId);
  engine.on('headers', (headers: Record<string, string>) => {
    headers['X-Node-Id'] = config.nodeId;
  });
  engine.on(
    'connection_error',
    (error: { req?: { headers: Record<string, unknown> }; code: number; message: string }) => {
      logger.warn(
        { req: error.req?.headers['x-request-id'], code: error.code, reason: error.message },
        'engine.io connection refused',
      );
    },
  );
  // Each distinct problem is logged once, not once per connection.
  const reported = new Set<string>();
  const onProblem = (problem: EngineShapeProblem) => {
    const line = describeShapeProblem(problem);
    if (reported.has(line)) return;
    reported.add(line);
    logger.warn({ file: problem.file }, line);
  };
  patchEngineInternals(io, onProblem);
  return guardSlowConsumers(io, config.limits.maxClientBufferBytes, metrics, logger, onProblem);
}

function isEnginePath(req: IncomingMessage): boolean {
  return req.url?.startsWith(SOCKET_PATH) === true;
}

/** A request that would open a new session: no `sid` in its query. */
function isHandshake(req: IncomingMessage): boolean {
  return !/[?&]sid=/.test(req.url ?? '');
}

const FULL_BODY = JSON.stringify({
  error: {
    code: ErrorCode.TooManyConnections,
    message: 'this node holds all the connections it accepts (MAX_CONNECTIONS); try another node',
  },
});

const DRAINING_BODY = JSON.stringify({
  error: {
    code: ErrorCode.Unavailable,
    message: 'this node is shutting down and takes no new sessions; try another node',
  },
});

function refuse(res: ServerResponse, body: string): void {
  res.writeHead(503, {
    'Content-Type': 'application/json',
    'Retry-After': '1',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function refuseUpgrade(socket: Duplex, body: string, nodeId: string): void {
  socket.end(
    'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n' +
      `X-Node-Id: ${nodeId}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function corsOption(origins: Config['corsOrigins']): Pick<Partial<EngineOptions>, 'cors'> {
  if (origins === '*') return { cors: { origin: '*' } };
  if (origins.length === 0) return {};
  return { cors: { origin: [...origins] } };
}
