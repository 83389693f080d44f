import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { guestIdentities } from './auth/guest.js';
import { compileRoomPatterns } from './auth/room-pattern.js';
import { createTokenVerifier } from './auth/token-verifier.js';
import type { ClusterBackend } from './cluster/cluster-backend.js';
import { createClusterBackend } from './cluster/create-cluster-backend.js';
import type { Config } from './config/config.js';
import { Publisher } from './delivery/publisher.js';
import { createAdminApp, createHttpApp } from './http/app.js';
import { stampNodeId } from './http/node-id-header.js';
import {
  LISTEN_BACKLOG,
  listenOnUnixSocket,
  type UnixSocketListener,
} from './http/unix-socket-listener.js';
import type { Logger } from './observability/logger.js';
import { NodeMetrics } from './observability/metrics.js';
import { NodeReporter } from './observability/node-reporter.js';
import { authenticateConnections } from './realtime/connection-auth.js';
import { createConnectionHandler } from './realtime/connection-handler.js';
import { EventRateLimit } from './realtime/event-rate-limit.js';
import { nodeState } from './realtime/node-state.js';
import type { PushIo } from './realtime/push-io.js';
import { recentMessagesFor } from './realtime/recent-messages.js';
import { RoomDelivery } from './realtime/room-delivery.js';
import { RoomPresence } from './realtime/room-presence.js';
import { socketBroadcaster } from './realtime/socket-broadcaster.js';
import { attachSocketServer, createSocketServer } from './realtime/socket-server.js';

/** One node of the push cluster: HTTP API, Socket.IO and the cluster link on one port. */
export interface PushServer {
  readonly io: PushIo;
  readonly httpServer: HttpServer;
  /** What this node shares with the others (memory for one node, Redis for a cluster). */
  readonly backend: ClusterBackend;
  readonly publisher: Publisher;
  /**
   * Starts listening on `config.port` (0 picks a free port), and on `config.listenSocket` when
   * set; resolves with the bound port.
   */
  listen(host?: string): Promise<number>;
  /**
   * Leaves the cluster without its clients noticing more than a reconnect: unready at once
   * (`/readyz` 503, new sessions refused with 503 so that nginx sends them elsewhere), still
   * serving for `DRAIN_DELAY_MS`, then closing its clients' connections spread over
   * `DRAIN_SPREAD_MS` (they reconnect through nginx to another node and recover from the
   * history), waiting for publishes in flight, and finally {@link close}. Idempotent.
   */
  drain(): Promise<void>;
  /**
   * Stops accepting, disconnects every client (they reconnect elsewhere), closes the adapter and
   * the Redis connections. Idempotent.
   */
  close(): Promise<void>;
}

/** Builds one node from its configuration; nothing listens until {@link PushServer.listen}. */
export function createPushServer(config: Config, logger: Logger): PushServer {
  let closing: Promise<void> | undefined;
  let draining: Promise<void> | undefined;
  let unixSocket: UnixSocketListener | undefined;
  const backend = createClusterBackend(
    {
      redisUrl: config.redisUrl,
      redisClusterNodes: config.redisClusterNodes,
      nodeId: config.nodeId,
      history: config.history,
      maxConnectionsPerUser: config.limits.maxConnectionsPerUser,
    },
    logger,
  );
  const { roomLog, presence, userConnections } = backend;
  const io = createSocketServer(config);
  backend.attach(io);
  const state = nodeState(io, backend, () => draining !== undefined);
  const metrics = new NodeMetrics(config.nodeId, state);
  const publisher = new Publisher(
    socketBroadcaster(io),
    roomLog,
    backend,
    config.nodeId,
    config.maxPayloadBytes,
    metrics,
  );
  const verifier = createTokenVerifier(config.auth);
  const reporter = new NodeReporter(config.nodeId, backend.instance, state, metrics);
  const reports = backend.nodeReports(reporter.report);
  const rateLimit = new EventRateLimit(
    config.limits.clientEventRate,
    config.limits.clientEventBurst,
  );
  const presenceRooms = compileRoomPatterns(config.presenceRooms);
  const app = createHttpApp({
    config,
    publisher,
    roomLog,
    presence,
    presenceRooms,
    cluster: backend,
    rateStore: backend.rateStore,
    metrics,
    admin: { metrics, reports },
    adminCredentials: { key: config.adminApiKey, verifier },
    logger,
    isShuttingDown: () => closing !== undefined || draining !== undefined,
  });
  const httpServer = createServer();
  // Longer than nginx's upstream keepalive_timeout (60 s): nginx, not the node, closes an idle
  // connection, so nginx never sends a request down a connection the node is closing (a publish
  // lost that way would be answered 502 outcome_unknown).
  httpServer.keepAliveTimeout = 65_000;
  const stopSocketServer = attachSocketServer(
    io,
    httpServer,
    app,
    config,
    metrics,
    logger,
    () => draining !== undefined,
  );
  const adminServer =
    config.adminPort === undefined
      ? undefined
      : createServer(createAdminApp({ metrics, reports }, metrics, logger));
  stampNodeId(httpServer, config.nodeId);

  const rooms = new RoomDelivery(
    io,
    roomLog,
    config.history.size,
    metrics,
    logger,
    recentMessagesFor(config.history),
  );
  io.use(
    authenticateConnections({
      verifier,
      newGuest: config.auth.allowGuests ? guestIdentities(config.auth) : undefined,
      corsOrigins: config.corsOrigins,
      userConnections,
      rateLimit,
      userRooms: rooms,
      metrics,
      logger,
    }),
  );
  const connections = createConnectionHandler({
    nodeId: config.nodeId,
    publisher,
    verifier,
    userConnections,
    rateLimit,
    metrics,
    rooms,
    presence: new RoomPresence(io, presence, presenceRooms, logger),
    welcomeReplay: config.history.size,
    logger,
  });
  io.on('connection', connections.onConnection);

  return {
    io,
    httpServer,
    backend,
    publisher,
    async listen(host?: string) {
      // Rejects with the listen error (e.g. EADDRINUSE), if any.
      await once(
        httpServer.listen({ port: config.port, host, backlog: LISTEN_BACKLOG }),
        'listening',
      );
      const { port } = httpServer.address() as AddressInfo;
      if (adminServer !== undefined) {
        try {
          await once(adminServer.listen({ port: config.adminPort, host }), 'listening');
        } catch (error) {
          await new Promise((resolve) => httpServer.close(resolve));
          throw error;
        }
      }
      if (config.listenSocket !== undefined) {
        try {
          unixSocket = await listenOnUnixSocket(httpServer, config.listenSocket);
        } catch (error) {
          // Listen on both or neither.
          await new Promise((resolve) => httpServer.close(resolve));
          throw error;
        }
      }
      return port;
    },
    drain() {
      draining ??= (async () => {
        const { delayMs, spreadMs } = config.drain;
        logger.info({ delayMs, spreadMs }, 'draining: unready, taking no new sessions');
        await sleep(delayMs);
        const sockets = [...io.of('/').sockets.values()];
        logger.info({ connections: sockets.length, spreadMs }, 'draining: moving clients away');
        // Each connection closed at its own moment in the spread: its client sees a transport
        // close, reconnects through nginx to another node and recovers its rooms there.
        await Promise.all(
          sockets.map(
            (socket) =>
              new Promise<void>((resolve) => {
                setTimeout(() => {
                  if (socket.connected) socket.conn.close();
                  resolve();
                }, Math.random() * spreadMs);
              }),
          ),
        );
        await publisher.settled();
        await this.close();
      })();
      return draining;
    },
    close() {
      closing ??= (async () => {
        const unixSocketClosed = unixSocket?.close();
        const httpClosed = httpServer.listening
          ? new Promise((resolve) => httpServer.close(resolve))
          : undefined;
        const socketsClosed = io.close();
        adminServer?.close();
        adminServer?.closeAllConnections();
        // Keep-alive connections idle between requests must not hold the server open.
        httpServer.closeIdleConnections();
        connections.close();
        stopSocketServer();
        await socketsClosed;
        await unixSocketClosed;
        await httpClosed;
        await backend.close();
      })();
      return closing;
    },
  };
}
