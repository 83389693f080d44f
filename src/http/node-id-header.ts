import type { Server as HttpServer } from 'node:http';

/**
 * Stamps `X-Node-Id` on every HTTP response of the server, including those Socket.IO writes
 * itself (handshakes, polling, its error answers). Must be called after Socket.IO has attached,
 * since it puts this listener in front of Socket.IO's.
 */
export function stampNodeId(httpServer: HttpServer, nodeId: string): void {
  httpServer.prependListener('request', (_req, res) => {
    res.setHeader('X-Node-Id', nodeId);
  });
}
