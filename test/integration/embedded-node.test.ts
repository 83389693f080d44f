import type { IncomingMessage } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PushSocket } from '../../src/realtime/push-io.js';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { connectClient, settle, subscribe, type TestClient } from '../support/test-client.js';
import { testToken } from '../support/tokens.js';
import { sleep, waitFor } from '../support/wait.js';

const API_KEY = 'embedded-test-publish-key';
const MAX_PAYLOAD_BYTES = 4096;

let node: InProcessNode;
const clients: TestClient[] = [];
/** A client with a token that may subscribe and publish anywhere (permissions are tested apart). */
const connect = async (
  transports?: Array<'polling' | 'websocket'>,
  extraHeaders?: Record<string, string>,
) => {
  const client = await connectClient(node.url, {
    transports,
    extraHeaders,
    token: await testToken(),
  });
  clients.push(client);
  return client;
};

const publishHttp = (body: string, headers: Record<string, string> = {}) =>
  postPublish(node.url, API_KEY, body, headers);

beforeAll(async () => {
  node = await startInProcessNode({
    NODE_ID: 'solo',
    PUBLISH_API_KEYS: API_KEY,
    MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
    // The contract tests send bursts (1000 subscribes); rate limits are tested on their own node.
    CLIENT_EVENT_BURST: '5000',
  });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await node.server.close();
});

describe('socket protocol on a single node (in-memory adapter)', () => {
  it('welcomes every connection with its node, socket id and user', async () => {
    const token = await testToken({ sub: 'welcomed-user' });
    const client = await connectClient(node.url, { token });
    clients.push(client);
    expect(client.node).toBe('solo');
    expect(client.sid).toBe(client.socket.id);
    expect(client.user).toBe('welcomed-user');
    // ...and the connection's event budget (CLIENT_EVENT_RATE's default, this node's burst).
    expect(client.events).toEqual({ rate: 20, burst: 5000 });
  });

  it('delivers a publish to the room subscribers only, once each, sender included', async () => {
    const [a, b, outsider] = await Promise.all([connect(), connect(['websocket']), connect()]);
    await subscribe(a, 'chat:1');
    await subscribe(b, 'chat:1');
    const ack = await a.socket.emitWithAck('publish', {
      room: 'chat:1',
      event: 'chat.message',
      data: { text: 'hello' },
    });
    expect(ack).toEqual({ ok: true, id: expect.any(String), offset: 1, epoch: expect.any(String) });
    if (!ack.ok) return;
    await settle();
    for (const client of [a, b]) {
      expect(client.received).toEqual([
        {
          event: 'chat.message',
          envelope: {
            id: ack.id,
            room: 'chat:1',
            data: { text: 'hello' },
            node: 'solo',
            ts: expect.any(Number),
            offset: 1,
            epoch: ack.epoch,
          },
        },
      ]);
    }
    expect(outsider.received).toEqual([]);
  });

  it('sends a publish without room to everyone, under "message" by default', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const ack = await a.socket.emitWithAck('publish', { data: 42 });
    if (!ack.ok) throw new Error(ack.error.message);
    await settle();
    for (const client of [a, b]) {
      expect(client.received.map((r) => [r.event, r.envelope.room, r.envelope.data])).toEqual([
        ['message', null, 42],
      ]);
    }
  });

  it('stops delivering after unsubscribe', async () => {
    const client = await connect();
    await subscribe(client, 'news');
    expect(await client.socket.emitWithAck('unsubscribe', 'news')).toEqual({
      ok: true,
      room: 'news',
    });
    await client.socket.emitWithAck('publish', { room: 'news', data: 'late' });
    await settle();
    expect(client.received).toEqual([]);
  });

  it('answers bad input with a coded negative ack and broadcasts nothing', async () => {
    const [client, listener] = await Promise.all([connect(), connect()]);
    await subscribe(listener, 'r');
    const cases: Array<[string, unknown, string]> = [
      ['subscribe', '', 'invalid_room'],
      ['subscribe', 'bad room!', 'invalid_room'],
      ['subscribe', { room: 'r' }, 'invalid_room'],
      ['unsubscribe', 7, 'invalid_room'],
      ['publish', 'not an object', 'bad_request'],
      ['publish', { room: 'r' }, 'invalid_data'],
      ['publish', { room: 'r', event: 'disconnect', data: 1 }, 'invalid_event'],
      ['publish', { room: 'r', event: 'welcome', data: 1 }, 'invalid_event'],
      ['publish', { rooom: 'r', data: 1 }, 'bad_request'],
      ['publish', { room: 'r', data: 'x'.repeat(MAX_PAYLOAD_BYTES) }, 'payload_too_large'],
    ];
    const socket = client.socket as unknown as {
      emitWithAck(event: string, arg: unknown): Promise<unknown>;
    };
    for (const [event, arg, code] of cases) {
      const ack = await socket.emitWithAck(event, arg);
      expect(ack, `${event} ${JSON.stringify(arg).slice(0, 60)}`).toEqual({
        ok: false,
        error: { code, message: expect.any(String) },
      });
    }
    await settle();
    expect(listener.received).toEqual([]);
    expect(client.socket.connected).toBe(true);
  });

  it('holds at most 1000 rooms per connection, then answers too_many_rooms', async () => {
    const [client, other] = await Promise.all([connect(['websocket']), connect(['websocket'])]);
    const rooms = Array.from({ length: 1000 }, (_, i) => `many:${i}`);
    const acks = await Promise.all(
      rooms.map((room) => client.socket.emitWithAck('subscribe', room)),
    );
    expect(acks.filter((ack) => !ack.ok)).toEqual([]);
    expect(await client.socket.emitWithAck('subscribe', 'many:1000')).toEqual({
      ok: false,
      error: { code: 'too_many_rooms', message: expect.stringContaining('1000') },
    });
    // A room already held is not a new one; after leaving one, there is room for another.
    expect(await client.socket.emitWithAck('subscribe', 'many:999')).toMatchObject({ ok: true });
    expect(await client.socket.emitWithAck('unsubscribe', 'many:0')).toMatchObject({ ok: true });
    expect(await client.socket.emitWithAck('subscribe', 'many:1000')).toMatchObject({ ok: true });
    expect(await client.socket.emitWithAck('subscribe', 'many:1001')).toMatchObject({
      ok: false,
      error: { code: 'too_many_rooms' },
    });
    // The limit is per connection: another one subscribes freely, and the refused room is empty.
    await subscribe(other, 'many:1001');
    const ack = await other.socket.emitWithAck('publish', { room: 'many:1001', data: 'x' });
    expect(ack).toMatchObject({ ok: true });
    await settle();
    expect(client.received).toEqual([]);
    expect(other.received.map((r) => r.envelope.data)).toEqual(['x']);
  });

  it('rejects unknown events that ask for an ack', async () => {
    const client = await connect();
    const socket = client.socket as unknown as {
      emitWithAck(event: string, ...args: unknown[]): Promise<unknown>;
    };
    expect(await socket.emitWithAck('join', 'room')).toMatchObject({
      ok: false,
      error: { code: 'unknown_event' },
    });
  });

  it('survives events without ack, without arguments, or with an ack in the wrong place', async () => {
    const client = await connect();
    const socket = client.socket as unknown as {
      emit(event: string, ...args: unknown[]): void;
      emitWithAck(event: string, ...args: unknown[]): Promise<unknown>;
    };
    socket.emit('subscribe');
    socket.emit('publish');
    socket.emit('publish', { data: 1 }, 'not-a-function');
    socket.emit('unknown-without-ack', 1, 2, 3);
    const misplaced = await socket.emitWithAck('subscribe');
    expect(misplaced).toMatchObject({ ok: false, error: { code: 'invalid_room' } });
    await settle(200);
    // The node is still serving.
    expect(await client.socket.emitWithAck('subscribe', 'still-ok')).toEqual({
      ok: true,
      room: 'still-ok',
      offset: 0,
      epoch: expect.any(String),
    });
  });

  it("does not let a room named like a socket id receive that socket's private traffic", async () => {
    const [victim, snoop] = await Promise.all([connect(), connect()]);
    await subscribe(snoop, victim.sid);
    await node.server.io.to(victim.sid).emit('message', {
      id: 'direct',
      room: null,
      data: 'private',
      node: 'solo',
      ts: 0,
    });
    await settle();
    expect(victim.received.map((r) => r.envelope.id)).toEqual(['direct']);
    expect(snoop.received).toEqual([]);
  });
});

describe('memory held per connection', () => {
  /** V8's collector, made callable without restarting the test worker with --expose-gc. */
  const collectGarbage = (): (() => void) => {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  };

  it.each([['websocket'], ['polling', 'websocket']] as const)(
    'lets the handshake request of a live %s connection be collected, keeps few headers',
    async (...transports) => {
      const gc = collectGarbage();
      const requests: WeakRef<IncomingMessage>[] = [];
      const track = (_headers: unknown, req: IncomingMessage) => requests.push(new WeakRef(req));
      node.server.io.engine.on('headers', track);
      const connected = new Promise<PushSocket>((resolve) =>
        node.server.io.once('connection', resolve),
      );
      const client = await connect([...transports], {
        'user-agent': 'push-test/1',
        cookie: 'session=a-large-cookie-a-push-node-has-no-use-for',
      });
      const socket = await connected;
      node.server.io.engine.off('headers', track);
      if (transports.length === 2) {
        await waitFor(() =>
          client.socket.io.engine.transport.name === 'websocket' ? true : undefined,
        );
      }

      expect(socket.handshake.headers).toEqual({ 'user-agent': 'push-test/1' });
      expect(socket.handshake.query.EIO).toBe('4');
      expect(socket.request).toBeNull();
      // The upgrade's request is the one a WebSocket connection would otherwise keep for its life.
      expect(requests.length).toBeGreaterThanOrEqual(1);
      await sleep(50);
      gc();
      expect(requests.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
      expect(client.socket.connected).toBe(true);
    },
  );
});

describe('listener tables of a live connection', () => {
  /** V8's own answer to "is this object in fast mode", made callable at run time. */
  const hasFastProperties = (): ((object: object) => boolean) => {
    setFlagsFromString('--allow-natives-syntax');
    return new Function('object', 'return %HasFastProperties(object)') as (
      object: object,
    ) => boolean;
  };

  it.each([
    { via: 'websocket', transports: ['websocket'] },
    { via: 'polling then an upgrade', transports: ['polling', 'websocket'] },
  ] as const)(
    'are compact on a connection made by $via, which still serves every event',
    async ({ transports }) => {
      const isFast = hasFastProperties();
      const connected = new Promise<PushSocket>((resolve) =>
        node.server.io.once('connection', resolve),
      );
      const client = await connect([...transports]);
      const socket = await connected;
      await waitFor(() =>
        socket.conn.transport.name === 'websocket' && socket.conn.readyState === 'open'
          ? true
          : undefined,
      );
      if (transports.length === 2) await waitFor(() => (socket.conn.upgraded ? true : undefined));

      const transport = socket.conn.transport as unknown as { socket: object };
      const emitters = { socket, conn: socket.conn, transport, ws: transport.socket };
      for (const [name, emitter] of Object.entries(emitters)) {
        const table = (emitter as unknown as { _events: object })._events;
        expect(isFast(table), `${name}._events in fast mode`).toBe(true);
        expect(Object.getPrototypeOf(table), `${name}._events prototype`).toBeNull();
      }
      // Every listener still answers: the node's events, unknown ones, and delivery.
      await subscribe(client, 'compact');
      const odd = client.socket as unknown as {
        emitWithAck(event: string, ...args: unknown[]): Promise<unknown>;
      };
      expect(await odd.emitWithAck('toString')).toMatchObject({
        ok: false,
        error: { code: 'unknown_event' },
      });
      expect(
        await client.socket.emitWithAck('publish', { room: 'compact', data: 7 }),
      ).toMatchObject({ ok: true });
      await waitFor(() => (client.received.length === 1 ? true : undefined));
      expect(client.received[0]?.envelope).toMatchObject({ room: 'compact', data: 7 });
    },
  );
});

describe('HTTP API on a single node', () => {
  it('publishes with a bearer key: 202 { id }, delivered to subscribers', async () => {
    const client = await connect();
    await subscribe(client, 'alerts');
    const response = await publishHttp(JSON.stringify({ room: 'alerts', data: { level: 3 } }));
    expect(response.status).toBe(202);
    expect(response.headers.get('x-node-id')).toBe('solo');
    const { id, offset, epoch } = (await response.json()) as {
      id: string;
      offset: number;
      epoch: string;
    };
    expect(offset).toBe(1);
    await settle();
    expect(client.received).toEqual([
      {
        event: 'message',
        envelope: {
          id,
          room: 'alerts',
          data: { level: 3 },
          node: 'solo',
          ts: expect.any(Number),
          offset: 1,
          epoch,
        },
      },
    ]);
  });

  it.each([
    ['{"room": "a",', {}, 400, 'bad_request'],
    ['[1,2]', {}, 400, 'bad_request'],
    ['"just a string"', {}, 400, 'bad_request'],
    ['{"room":"bad room","data":1}', {}, 400, 'invalid_room'],
    ['{"room":"a"}', {}, 400, 'invalid_data'],
    ['{"room":"a","event":"connect","data":1}', {}, 400, 'invalid_event'],
    ['{"data":1}', { authorization: 'Bearer wrong-key' }, 401, 'unauthorized'],
    ['{"data":1}', { authorization: '' }, 401, 'unauthorized'],
    ['{"data":1}', { authorization: `Basic ${API_KEY}` }, 401, 'unauthorized'],
    ['{"data":1}', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
    [JSON.stringify({ data: 'x'.repeat(MAX_PAYLOAD_BYTES) }), {}, 413, 'payload_too_large'],
  ])('answers %s %j with %i %s', async (body, headers, status, code) => {
    const listener = await connect();
    const response = await publishHttp(body, headers as Record<string, string>);
    expect(response.status).toBe(status);
    expect(response.headers.get('x-node-id')).toBe('solo');
    expect(await response.json()).toEqual({ error: { code, message: expect.any(String) } });
    if (status === 401) expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await settle(200);
    expect(listener.received).toEqual([]);
  });

  it('reports liveness and readiness, with X-Node-Id on every response', async () => {
    const health = await fetch(`${node.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', node: 'solo' });
    const ready = await fetch(`${node.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', cluster: 'memory' });
    const missing = await fetch(`${node.url}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-node-id')).toBe('solo');
    const unknownSession = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling&sid=x`);
    expect(unknownSession.status).toBe(400);
    expect(unknownSession.headers.get('x-node-id')).toBe('solo');
  });

  it('issues Engine.IO session ids that carry the node id (for nginx routing)', async () => {
    const response = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
    const body = await response.text();
    expect(response.headers.get('x-node-id')).toBe('solo');
    expect(JSON.parse(body.slice(1)).sid).toMatch(/^solo\.[A-Za-z0-9_-]{20}$/);
  });
});

describe('web assets on a single node', () => {
  it('serves the demo page at / with a strict content security policy', async () => {
    const page = await fetch(`${node.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('x-node-id')).toBe('solo');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="demo.js"></script>');
    for (const asset of ['demo.js', 'demo.css']) {
      const response = await fetch(`${node.url}/${asset}`);
      expect(response.status, asset).toBe(200);
    }
  });

  it('serves the browser client as an ES module exporting PushClient', async () => {
    const response = await fetch(`${node.url}/push-client.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^(text|application)\/javascript/);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.text()).toMatch(/export\s*\{[^}]*\bPushClient\b/);
  });
});

describe('a node whose Redis is unreachable', () => {
  let orphan: InProcessNode;
  beforeAll(async () => {
    // Port 1 on loopback: nothing listens there, connections are refused at once.
    orphan = await startInProcessNode({
      NODE_ID: 'orphan',
      PUBLISH_API_KEYS: API_KEY,
      REDIS_URL: 'redis://127.0.0.1:1',
    });
  });
  afterAll(() => orphan.server.close());

  it('is alive but not ready', async () => {
    expect((await fetch(`${orphan.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${orphan.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not ready', cluster: 'redis' });
  });

  it('refuses publishes with 503 / unavailable instead of delivering to itself only', async () => {
    const response = await postPublish(orphan.url, API_KEY, { data: 1 });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toMatchObject({ error: { code: 'unavailable' } });

    const client = await connectClient(orphan.url, { token: await testToken() });
    try {
      expect(await client.socket.emitWithAck('publish', { data: 1 })).toMatchObject({
        ok: false,
        error: { code: 'unavailable' },
      });
      await settle(200);
      expect(client.received).toEqual([]);
    } finally {
      client.close();
    }
  });
});
