import { once } from 'node:events';
import { chmod, lstat, unlink } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { createConnection, createServer, type Server as NetServer } from 'node:net';

/**
 * How many connections may wait to be accepted, on the Unix socket and the TCP port. A reconnect
 * storm (a node gone, its clients arriving at once) or a connect burst through nginx fills
 * Node's default of 511 while the event loop is busy admitting the first arrivals, and nginx's
 * `connect()` then fails with EAGAIN (a 502 to the client). The kernel caps it at
 * `net.core.somaxconn` (4096 on current Linux).
 */
export const LISTEN_BACKLOG = 4096;

/** A Unix domain socket that feeds its connections to an HTTP server. */
export interface UnixSocketListener {
  /** The socket's path. */
  readonly path: string;
  /** Stops accepting and removes the socket file (open connections are the HTTP server's). */
  close(): Promise<void>;
}

/**
 * Accepts connections on the Unix domain socket `path` and hands each one to `httpServer`, which
 * then serves it exactly like a TCP connection (HTTP, long-polling, WebSocket upgrades).
 *
 * For a load balancer on the same host: a hop over a Unix socket skips the loopback TCP stack, so
 * nginx and the node each spend less per relayed frame (docs/performance.md).
 *
 * A socket file left by a process that is gone is replaced; a path that holds anything else, or a
 * socket someone still listens on, is refused with an error that says so. The socket is made
 * connectable by every local user (mode 0666), since the load balancer's workers usually run as
 * another user: restrict access with the directory's permissions.
 */
export async function listenOnUnixSocket(
  httpServer: HttpServer,
  path: string,
): Promise<UnixSocketListener> {
  await removeStaleSocket(path);
  const server = createServer((socket) => httpServer.emit('connection', socket));
  // Rejects with the listen error, if any, instead of waiting forever.
  await once(server.listen({ path, backlog: LISTEN_BACKLOG }), 'listening');
  await chmod(path, 0o666);
  return {
    path,
    close: () => closeAndUnlink(server, path),
  };
}

async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (stat === undefined) return;
  if (!stat.isSocket()) {
    throw new Error(`LISTEN_SOCKET ${path} exists and is not a socket; remove it or pick a path`);
  }
  if (await someoneListens(path)) {
    throw new Error(`LISTEN_SOCKET ${path} is in use by another process`);
  }
  await unlink(path);
}

function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Stops accepting without waiting for open connections (the HTTP server closes those). */
async function closeAndUnlink(server: NetServer, path: string): Promise<void> {
  server.close();
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
