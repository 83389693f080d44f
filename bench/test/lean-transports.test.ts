import { createServer, type Server as HttpServer } from 'node:http';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Socket as NetSocket,
} from 'node:net';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeanPolling } from '../load/lean-polling.js';
import { LeanWebSocketTransport } from '../load/lean-websocket-transport.js';

let http: HttpServer | undefined;
let client: Socket | undefined;
/** Every TCP connection the server accepted (upgraded ones included). */
const connections = new Set<NetSocket>();

afterEach(async () => {
  client?.close();
  client = undefined;
  for (const connection of connections) connection.destroy();
  connections.clear();
  await new Promise((resolve) => http?.close(resolve) ?? resolve(undefined));
  http = undefined;
});

/** A Socket.IO server on a free loopback port that answers `echo`; other paths answer 404. */
async function startServer(): Promise<{ url: string; server: Server }> {
  http = createServer((_request, response) => response.writeHead(404).end('not found'));
  http.on('connection', (connection: NetSocket) => connections.add(connection));
  const server = new Server(http);
  server.on('connection', (socket) => {
    socket.on('echo', (text: string, ack: (text: string) => void) => ack(`echo ${text}`));
  });
  await new Promise<void>((resolve) => http?.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

describe("the load generator's Socket.IO transports", () => {
  it.each([
    ['polling', LeanPolling],
    ['websocket', LeanWebSocketTransport],
  ] as const)(
    '%s: connects, receives large UTF-8 payloads whole, sends with acks',
    async (name, transport) => {
      const { url, server } = await startServer();
      server.on('connection', (socket) => {
        socket.on('echo', (text: string, ack: (text: string) => void) => ack(`echo ${text}`));
        // 200,000 bytes of two-byte characters: many TCP chunks, some cut inside a character.
        socket.emit('big', 'é'.repeat(100_000));
      });
      const socket = io(url, { transports: [transport], forceNew: true, reconnection: false });
      client = socket;
      const big = new Promise<string>((resolve) => socket.once('big', resolve));
      await connected(socket);

      expect(socket.io.engine.transport.name).toBe(name);
      expect(socket.io.engine.transport).toBeInstanceOf(transport);
      expect(await big).toBe('é'.repeat(100_000));
      const sent = `ü${'s'.repeat(5_000)}`;
      expect(await socket.timeout(5_000).emitWithAck('echo', sent)).toBe(`echo ${sent}`);
    },
  );

  it.each([
    ['polling', LeanPolling],
    ['websocket', LeanWebSocketTransport],
  ] as const)(
    '%s: a connection cut under it is a transport error or close',
    async (_name, transport) => {
      const { url } = await startServer();
      const socket = io(url, { transports: [transport], forceNew: true, reconnection: false });
      client = socket;
      await connected(socket);
      const reasons: string[] = [];
      socket.on('disconnect', (reason) => reasons.push(reason));

      // The node is killed: its connections go, and nothing listens any more (a poll on a kept
      // connection that closed without an answer is sent again, and refused).
      http?.close();
      for (const connection of connections) connection.destroy();
      await vi.waitFor(() => expect(reasons).toHaveLength(1), { timeout: 10_000 });
      expect(reasons[0]).toMatch(/^transport (error|close)$/);
    },
  );

  it.each([
    ['polling', LeanPolling, /xhr poll error/],
    ['websocket', LeanWebSocketTransport, /websocket error/],
  ] as const)(
    '%s: an endpoint that refuses fails the connect (no hang)',
    async (_name, transport, message) => {
      const { url } = await startServer();
      const socket = io(url, {
        path: '/nothing-here/',
        transports: [transport],
        forceNew: true,
        reconnection: false,
      });
      client = socket;
      await expect(connected(socket)).rejects.toThrow(message);
    },
  );

  it('websocket: a connect given up before the upgrade closes its TCP connection', async () => {
    // A server that accepts the connection and never answers the upgrade.
    const silent = createNetServer((connection) => {
      // Read (and drop) what comes, so that the client's close is seen.
      connection.resume();
      open.add(connection);
      connection.on('close', () => open.delete(connection));
    });
    const open = new Set<NetSocket>();
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const socket = io(`http://127.0.0.1:${port}`, {
        transports: [LeanWebSocketTransport],
        forceNew: true,
        reconnection: false,
        timeout: 300,
      });
      client = socket;
      await expect(connected(socket)).rejects.toThrow(/timeout/);
      await vi.waitFor(() => expect(open.size).toBe(0), { timeout: 5_000 });
    } finally {
      for (const connection of open) connection.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('upgrades from the lean long-polling to the lean WebSocket', async () => {
    const { url } = await startServer();
    const socket = io(url, {
      transports: [LeanPolling, LeanWebSocketTransport],
      forceNew: true,
      reconnection: false,
    });
    client = socket;
    await connected(socket);
    await vi.waitFor(() => expect(socket.io.engine.transport.name).toBe('websocket'));
    expect(socket.io.engine.transport).toBeInstanceOf(LeanWebSocketTransport);
    expect(await socket.timeout(5_000).emitWithAck('echo', 'upgraded')).toBe('echo upgraded');
  });
});
