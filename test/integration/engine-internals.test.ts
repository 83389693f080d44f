import { readFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import {
  describeShapeProblem,
  type EngineShapeProblem,
  patchEngineInternals,
} from '../../src/realtime/engine-internals/index.js';
import type { PushIo, PushSocket } from '../../src/realtime/push-io.js';
import { connectClient, type TestClient } from '../support/test-client.js';
import { waitFor } from '../support/wait.js';

/**
 * The guard of `src/realtime/engine-internals/`: its patches rely on the inner shape of the
 * installed engine.io, socket.io and ws. When an upgrade changes that shape, these tests fail
 * with the file to revisit (the patches report what they did not find as they run).
 */
const running: Array<{ io: PushIo; http: HttpServer; clients: TestClient[] }> = [];

afterEach(async () => {
  for (const { io, http, clients } of running.splice(0)) {
    for (const client of clients) client.close();
    await io.close();
    http.closeAllConnections();
  }
});

/** A bare Socket.IO server with the patches applied; `prepare` runs before them. */
async function patchedServer(prepare: (io: PushIo) => void = () => {}) {
  const http = createServer();
  const io: PushIo = new Server(http);
  const problems: EngineShapeProblem[] = [];
  prepare(io);
  patchEngineInternals(io, (problem) => problems.push(problem));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const clients: TestClient[] = [];
  running.push({ io, http, clients });
  const connections: PushSocket[] = [];
  io.on('connection', (socket) => {
    connections.push(socket);
    socket.emit('welcome', { node: 'guard', sid: socket.id, user: 'guard', guest: true });
  });
  const connect = async (transports: Array<'polling' | 'websocket'>) => {
    const client = await connectClient(url, { transports });
    clients.push(client);
    if (transports.length === 2) {
      await waitFor(() => client.socket.io.engine.transport.name === 'websocket', {
        what: 'upgrade to WebSocket',
      });
    }
    return client;
  };
  return { io, url, problems, connections, connect };
}

describe('the engine internals the patches rely on', () => {
  it('are there in the installed engine, for WebSocket and polling-then-upgrade connections', async () => {
    const server = await patchedServer();
    await server.connect(['websocket']);
    await server.connect(['polling', 'websocket']);
    await server.connect(['polling']);
    // The server side of the upgrade (where the upgraded transport is compacted) is done too.
    await waitFor(
      () =>
        server.connections.filter((socket) => socket.conn.transport.name === 'websocket').length ===
        2,
      { what: 'two WebSocket transports on the server' },
    );
    expect(server.problems.map(describeShapeProblem)).toEqual([]);
    // And the patches did their work.
    for (const socket of server.connections) expect(socket.request).toBeNull();
  });

  it('are reported, naming the file to revisit, when the engine lacks them', async () => {
    const server = await patchedServer((io) => {
      // An engine whose upgrade path no longer registers the response shim's `close` listener.
      const engine = io.engine;
      const original = engine.handleUpgrade.bind(engine);
      engine.handleUpgrade = (req, socket: Duplex, head) => {
        const before = new Set(socket.rawListeners('close'));
        original(req, socket, head);
        for (const listener of socket.rawListeners('close')) {
          if (!before.has(listener)) socket.removeListener('close', listener as () => void);
        }
      };
    });
    await server.connect(['websocket']);
    expect(server.problems.map(describeShapeProblem)).toEqual([
      'engine internals changed: expected engine.handleUpgrade() to register a socket.once("close") listener; revisit src/realtime/engine-internals/handshake-request-release.ts',
    ]);
  });

  it("send a long-polling connection's packets of one turn in one poll response", async () => {
    const server = await patchedServer();
    const url = server.url;
    // Engine.IO over plain HTTP: the handshake, then a poll left waiting, then the connect.
    const open = await (await fetch(`${url}/socket.io/?EIO=4&transport=polling`)).text();
    const { sid } = JSON.parse(open.slice(1)) as { sid: string };
    const session = `${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const poll = fetch(session).then((response) => response.text());
    // engine.io keeps its sessions in `clients`: not part of its public type.
    const { clients } = server.io.engine as unknown as {
      clients: Record<string, { transport: { writable: boolean } } | undefined>;
    };
    await waitFor(() => clients[sid]?.transport.writable === true, {
      what: 'the poll waiting on the server',
    });
    await fetch(session, { method: 'POST', body: '40' });
    // The connect's answer and the welcome written with it come in the poll that was waiting.
    const packets = (await poll).split('\x1e');
    expect(packets.map((packet) => packet.slice(0, 2))).toEqual(['40', '42']);
    expect(packets[1]).toContain('"welcome"');
    expect(server.problems.map(describeShapeProblem)).toEqual([]);
  });

  it('are those of the exact engine versions pinned in package.json', () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const name of ['socket.io', 'engine.io', 'socket.io-adapter']) {
      const pinned = manifest.dependencies[name];
      const installed = (
        JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
      expect(pinned, `${name} pinned to an exact version`).toMatch(/^\d+\.\d+\.\d+$/);
      expect(installed, name).toBe(pinned);
    }
  });
});
