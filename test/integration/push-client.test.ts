import { NodeWebSocket, NodeXHR } from 'socket.io-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/shared/free-port.js';
import {
  PushClient,
  PushError,
  type StatusChange,
  type TokenSource,
} from '../../src/client/index.js';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/** The client library in Node.js against a real node (in-memory adapter). */
const API_KEY = 'push-client-test-key';
type Events = { chat: { text: string }; message: unknown };
const nodes: InProcessNode[] = [];
/** A token function: a fresh token (subscribe and publish anywhere) for every connection. */
const fullToken = () => testToken();
const clients: PushClient<Events>[] = [];

const start = async (env: Record<string, string> = {}) => {
  const node = await startInProcessNode({ PUBLISH_API_KEYS: API_KEY, ...env });
  nodes.push(node);
  return node;
};
const client = (url: string, token: TokenSource | undefined = fullToken) => {
  const created = new PushClient<Events>(url, { ackTimeoutMs: 3000, token });
  clients.push(created);
  return created;
};

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.server.close()));
});

describe('PushClient', () => {
  it('connects, knows its node, subscribes, publishes and receives typed envelopes', async () => {
    const node = await start({ NODE_ID: 'pc1' });
    const alice = client(node.url);
    const bob = client(node.url);
    await Promise.all([alice.ready(), bob.ready()]);
    expect(alice.node).toBe('pc1');
    expect(alice.status).toMatchObject({ state: 'connected', transport: expect.any(String) });

    const received: string[] = [];
    bob.on('chat', (envelope) => received.push(`${envelope.room}:${envelope.data.text}`));
    await bob.subscribe('lobby');
    expect([...bob.rooms]).toEqual(['lobby']);
    const id = await alice.publish({ room: 'lobby', event: 'chat', data: { text: 'hi' } });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(() => received.length === 1, { what: 'chat delivery' });
    expect(received).toEqual(['lobby:hi']);
  });

  it("rejects with the server's code and message, and forgets a refused room", async () => {
    const node = await start({ NODE_ID: 'pc2', MAX_PAYLOAD_BYTES: '1024' });
    const c = client(node.url);
    const refused = await c.subscribe('bad room').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PushError);
    expect(refused).toMatchObject({ code: 'invalid_room', message: expect.stringMatching(/room/) });
    expect(c.rooms.size).toBe(0);
    await expect(c.publish({ data: 'x'.repeat(2000) })).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    c.close();
    await expect(c.publish({ data: 1 })).rejects.toMatchObject({ code: 'closed' });
  });

  it('rejoins its rooms by itself after the node restarts, and says so', async () => {
    const port = String(await freePort());
    const first = await start({ NODE_ID: 'before', PORT: port });
    const c = client(`http://127.0.0.1:${port}`);
    const changes: StatusChange[] = [];
    c.onStatus((_status, change) => changes.push(change));
    await c.subscribe('orders:1');
    await c.subscribe('orders:2');

    await first.server.close();
    await waitFor(() => c.status.state === 'reconnecting', { what: 'reconnecting state' });
    const second = await start({ NODE_ID: 'after', PORT: port });
    await waitFor(() => changes.some((change) => change.kind === 'resubscribed'), {
      timeoutMs: 15_000,
      what: 'resubscription on the new node',
    });
    expect(c.node).toBe('after');
    expect(changes).toContainEqual({ kind: 'connected', node: 'after', reconnected: true });
    // A node without Redis keeps history in memory: the new process has none of it.
    expect(changes).toContainEqual({
      kind: 'resubscribed',
      rooms: ['orders:1', 'orders:2'],
      failed: [],
      recovered: [],
      notRecovered: ['orders:1', 'orders:2'],
    });

    const got: unknown[] = [];
    c.on('message', (envelope) => got.push(envelope.data));
    const response = await postPublish(second.url, API_KEY, {
      room: 'orders:2',
      data: 'after restart',
    });
    expect(response.status).toBe(202);
    await waitFor(() => got.length === 1, { what: 'delivery after the restart' });
    expect(got).toEqual(['after restart']);
  });

  it('publishes a room message once when its connection drops before the answer', async () => {
    const node = await start({ NODE_ID: 'pc-resend' });
    const watcher = client(node.url);
    const publisher = client(node.url);
    await Promise.all([watcher.ready(), publisher.ready()]);
    const seen: string[] = [];
    watcher.on('chat', (envelope) => seen.push(envelope.id));
    await watcher.subscribe('resend');
    // The node takes the first publish, then drops the connection it came on: the message is
    // published, its answer lost.
    let dropped = false;
    for (const socket of node.server.io.of('/').sockets.values()) {
      socket.use(([event], next) => {
        next();
        if (event === 'publish' && !dropped) {
          dropped = true;
          socket.conn.close();
        }
      });
    }
    const id = await publisher.publish({ room: 'resend', event: 'chat', data: { text: 'once' } });
    expect(dropped).toBe(true);
    await waitFor(() => seen.length === 1, { what: 'the delivery' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen).toEqual([id]);
  });

  it('connects over WebSocket by default; after an upgrade reconnects over WebSocket at once (transports given by name or by class); over long-polling when told to', async () => {
    const node = await start({ NODE_ID: 'pc-ws' });
    const opened: string[] = [];
    node.server.io.engine.on('connection', (conn: { transport: { name: string } }) => {
      opened.push(conn.transport.name);
    });
    const upgrading = new PushClient<Events>(node.url, { transports: ['polling', 'websocket'] });
    clients.push(upgrading);
    // Socket.IO's own classes stand for the names, as a Node.js application may pass its own.
    const byClass = new PushClient<Events>(node.url, { transports: [NodeXHR, NodeWebSocket] });
    clients.push(byClass);
    const pollingOnly = new PushClient<Events>(node.url, { transports: ['polling'] });
    clients.push(pollingOnly);
    const byDefault = client(node.url);
    await Promise.all([upgrading.ready(), byClass.ready(), pollingOnly.ready(), byDefault.ready()]);
    expect(byDefault.status.transport).toBe('websocket');
    byDefault.close();
    await waitFor(
      () => upgrading.status.transport === 'websocket' && byClass.status.transport === 'websocket',
      { what: 'the upgrades' },
    );
    expect(opened.sort()).toEqual(['polling', 'polling', 'polling', 'websocket']);
    opened.length = 0;
    const sids = [upgrading.sid, byClass.sid, pollingOnly.sid];
    for (const socket of node.server.io.of('/').sockets.values()) socket.conn.close();
    await waitFor(
      () =>
        [upgrading, byClass, pollingOnly].every(
          (each, index) => each.status.state === 'connected' && each.sid !== sids[index],
        ),
      { timeoutMs: 10_000, what: 'all three back' },
    );
    // Two handshakes over WebSocket (no polling round trips), one over long-polling as configured.
    expect(opened.sort()).toEqual(['polling', 'websocket', 'websocket']);
  });

  it("rejoins many rooms within the node's event budget: never refused, never cut off", async () => {
    const node = await start({
      NODE_ID: 'pc-paced',
      CLIENT_EVENT_RATE: '10',
      CLIENT_EVENT_BURST: '10',
    });
    const many = new PushClient<Events>(node.url, { ackTimeoutMs: 30_000, token: fullToken });
    clients.push(many);
    const changes: StatusChange[] = [];
    many.onStatus((_status, change) => changes.push(change));
    const rooms = Array.from({ length: 40 }, (_, index) => `paced:${index}`);
    // Four times the burst at once: the client sends them as the budget allows.
    await Promise.all(rooms.map((room) => many.subscribe(room)));
    for (const socket of node.server.io.of('/').sockets.values()) socket.conn.close();
    await waitFor(() => changes.some((change) => change.kind === 'resubscribed'), {
      timeoutMs: 20_000,
      what: 'all 40 rooms rejoined',
    });
    expect(changes.find((change) => change.kind === 'resubscribed')).toMatchObject({
      failed: [],
      rooms: expect.arrayContaining(rooms),
    });
    expect(changes.filter((change) => change.kind === 'goodbye')).toEqual([]);
    expect(many.rooms.size).toBe(40);
    const got: unknown[] = [];
    many.on('message', (envelope) => got.push(envelope.data));
    expect((await postPublish(node.url, API_KEY, { room: 'paced:39', data: 'last' })).status).toBe(
      202,
    );
    await waitFor(() => got.length === 1, { what: 'a message in the last room' });
  }, 60_000);
});
