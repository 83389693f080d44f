import { RedisContainer, type StartedRedisContainer } from '@testcontainers/redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PushClient, type StatusChange } from '../../src/client/index.js';
import { NodeLiveness } from '../../src/cluster/redis/node-liveness.js';
import { roomChannel, userConnectionsKey } from '../../src/cluster/redis/redis-keys.js';
import { redisUserConnections } from '../../src/cluster/redis/redis-user-connections.js';
import { createLogger } from '../../src/observability/logger.js';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import {
  connectClient,
  emitAck,
  settle,
  subscribe,
  type TestClient,
} from '../support/test-client.js';
import { TEST_JWT_SECRET, testToken } from '../support/tokens.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * Who may connect and what they may do, on nodes in this process: tokens, guests, room
 * permissions, token refresh and expiry, and the limits that keep one client from hurting others.
 */
const API_KEYS = ['auth-test-publish-key-one', 'auth-test-publish-key-two'];
const nodes: InProcessNode[] = [];
const clients: TestClient[] = [];
const pushClients: PushClient[] = [];

async function start(env: Record<string, string>): Promise<InProcessNode> {
  const node = await startInProcessNode({ PUBLISH_API_KEYS: API_KEYS.join(','), ...env });
  nodes.push(node);
  return node;
}

async function connect(node: InProcessNode, token?: string, extra: { origin?: string } = {}) {
  const client = await connectClient(node.url, {
    token,
    transports: ['websocket'],
    extraHeaders: extra.origin === undefined ? undefined : { origin: extra.origin },
  });
  clients.push(client);
  return client;
}

/** What the server answered a refused connection with: `connect_error`'s `data`. */
async function refusal(node: InProcessNode, token?: unknown, origin?: string) {
  const error = await connectClient(node.url, {
    token: token as string,
    transports: ['websocket'],
    extraHeaders: origin === undefined ? undefined : { origin },
  }).then(
    (client) => {
      clients.push(client);
      throw new Error(`connected as ${client.user}`);
    },
    (error: { data?: unknown }) => error,
  );
  return error.data;
}

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const client of pushClients.splice(0)) client.close();
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.server.close()));
});

describe('a node with guests off', () => {
  let node: InProcessNode;
  beforeAll(async () => {
    node = await start({ NODE_ID: 'locked', ALLOW_GUESTS: 'false' });
  });

  it('refuses a connection without a token, with a bad one, or with an expired one', async () => {
    expect(await refusal(node)).toEqual({ code: 'auth_required', message: expect.any(String) });
    expect(await refusal(node, 'not-a-token')).toMatchObject({ code: 'token_invalid' });
    expect(await refusal(node, { nested: 'object' })).toMatchObject({ code: 'token_invalid' });
    const forged = await testToken({}, 'another-secret-of-at-least-32-bytes-long');
    expect(await refusal(node, forged)).toMatchObject({ code: 'token_invalid' });
    const expired = await testToken({ ttlSeconds: -60 });
    expect(await refusal(node, expired)).toMatchObject({ code: 'token_expired' });
  });

  it('admits a valid token, as its user', async () => {
    const client = await connect(node, await testToken({ sub: 'alice' }));
    expect(client.user).toBe('alice');
  });

  it('refuses a page from another origin, and admits its own origin and non-browsers', async () => {
    const token = await testToken();
    expect(await refusal(node, token, 'https://evil.example.com')).toMatchObject({
      code: 'forbidden_origin',
    });
    const own = new URL(node.url).origin;
    expect((await connect(node, token, { origin: own })).user).toMatch(/^user-/);
    expect((await connect(node, token)).user).toMatch(/^user-/);
  });

  it('keeps private rooms to their grant and user rooms to their user', async () => {
    const alice = await connect(
      node,
      await testToken({ sub: 'alice', rooms: ['private:team-*'], publish: [] }),
    );
    expect(await emitAck(alice, 'subscribe', 'private:team-1')).toEqual({
      ok: true,
      room: 'private:team-1',
      offset: 0,
      epoch: expect.any(String),
    });
    expect(await emitAck(alice, 'subscribe', 'private:payroll')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await emitAck(alice, 'subscribe', 'user:alice')).toMatchObject({
      ok: true,
      room: 'user:alice',
    });
    expect(await emitAck(alice, 'subscribe', 'user:bob')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await emitAck(alice, 'unsubscribe', 'user:alice')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await emitAck(alice, 'subscribe', 'plain-room')).toMatchObject({ ok: true });
  });

  it('lets a client publish only where its publish claim allows, to everyone only with "*"', async () => {
    const watcher = await connect(node, await testToken({ rooms: ['*'] }));
    for (const room of ['chat:1', 'news', 'private:ops']) await subscribe(watcher, room);
    const writer = await connect(node, await testToken({ publish: ['chat:*'] }));
    expect(await emitAck(writer, 'publish', { room: 'chat:1', data: 'ok' })).toMatchObject({
      ok: true,
    });
    for (const request of [
      { room: 'news', data: 'no' },
      { room: 'private:ops', data: 'no' },
      { data: 'to all' },
    ]) {
      expect(await emitAck(writer, 'publish', request), JSON.stringify(request)).toMatchObject({
        ok: false,
        error: { code: 'forbidden' },
      });
    }
    const reader = await connect(node, await testToken({ publish: [] }));
    expect(await emitAck(reader, 'publish', { room: 'chat:1', data: 'no' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    const admin = await connect(node, await testToken({ publish: ['*'] }));
    expect(await emitAck(admin, 'publish', { data: 'to all' })).toMatchObject({ ok: true });
    await settle();
    expect(watcher.received.map((r) => r.envelope.data)).toEqual(['ok', 'to all']);
  });

  it('reaches every connection of one user through the HTTP API, and no one else', async () => {
    const [tab1, tab2] = [
      await connect(node, await testToken({ sub: 'dana' })),
      await connect(node, await testToken({ sub: 'dana' })),
    ];
    const other = await connect(node, await testToken({ sub: 'erin' }));
    for (const key of API_KEYS) {
      const response = await postPublish(node.url, key, { user: 'dana', event: 'note', data: key });
      expect(response.status).toBe(202);
    }
    await waitFor(() => tab1.received.length === 2 && tab2.received.length === 2, {
      what: "dana's tabs",
    });
    expect(tab1.received.map((r) => [r.event, r.envelope.room, r.envelope.data])).toEqual(
      API_KEYS.map((key) => ['note', 'user:dana', key]),
    );
    await settle();
    expect(other.received).toEqual([]);
  });
});

describe('token expiry and refresh', () => {
  let node: InProcessNode;
  beforeAll(async () => {
    node = await start({ NODE_ID: 'expiry', ALLOW_GUESTS: 'true' });
  });

  it('says goodbye with token_expired and closes the connection when the token expires', async () => {
    const client = await connect(node, await testToken({ ttlSeconds: 2 }));
    const goodbye = new Promise((resolve) => client.socket.once('goodbye', resolve));
    const closed = new Promise((resolve) => client.socket.once('disconnect', resolve));
    expect(await goodbye).toEqual({ code: 'token_expired', message: expect.any(String) });
    expect(await closed).toBe('io server disconnect');
  });

  it('keeps a connection that refreshes its token, with the new grants', async () => {
    const client = await connect(
      node,
      await testToken({ sub: 'fay', rooms: ['private:*'], ttlSeconds: 3 }),
    );
    await subscribe(client, 'private:a');
    await subscribe(client, 'private:b');
    const fresh = await testToken({ sub: 'fay', rooms: ['private:a'], ttlSeconds: 60 });
    const refreshed = (await emitAck(client, 'refresh', fresh)) as {
      ok: boolean;
      expiresAt: number;
    };
    expect(refreshed).toEqual({ ok: true, expiresAt: expect.any(Number) });
    expect(refreshed.expiresAt).toBeGreaterThan(Date.now() + 50_000);
    await sleep(4500);
    expect(client.socket.connected).toBe(true);
    // The new token no longer grants private:b: the connection left it.
    for (const room of ['private:a', 'private:b']) {
      expect(
        (await postPublish(node.url, API_KEYS[0] as string, { room, data: room })).status,
      ).toBe(202);
    }
    await waitFor(() => client.received.length >= 1, { what: 'delivery to private:a' });
    await settle();
    expect(client.received.map((r) => r.envelope.data)).toEqual(['private:a']);
    // ...and was told so, once.
    expect(client.unsubscribed).toEqual([
      {
        room: 'private:b',
        code: 'forbidden',
        message: 'the refreshed token does not allow private:b',
      },
    ]);
  });

  it('refuses a refresh for another user, a bad token, and one from a guest', async () => {
    const client = await connect(node, await testToken({ sub: 'gus' }));
    expect(await emitAck(client, 'refresh', await testToken({ sub: 'not-gus' }))).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await emitAck(client, 'refresh', 'garbage')).toMatchObject({
      ok: false,
      error: { code: 'token_invalid' },
    });
    expect(
      await emitAck(client, 'refresh', await testToken({ sub: 'gus', ttlSeconds: -60 })),
    ).toMatchObject({ ok: false, error: { code: 'token_expired' } });
    const guest = await connect(node);
    expect(guest.user).toMatch(/^guest-/);
    expect(await emitAck(guest, 'refresh', await testToken())).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(client.socket.connected && guest.socket.connected).toBe(true);
  });

  it('lets the client library refresh its token before it expires, and stay connected', async () => {
    let issued = 0;
    const client = new PushClient(node.url, {
      transports: ['websocket'],
      token: () => {
        issued++;
        // The fresh token no longer grants private:b.
        const rooms = issued === 1 ? ['private:*'] : ['private:a'];
        return testToken({ sub: 'hana', ttlSeconds: 7, rooms });
      },
    });
    pushClients.push(client);
    const changes: StatusChange[] = [];
    client.onStatus((_status, change) => changes.push(change));
    await client.ready();
    await client.subscribe('private:a');
    await client.subscribe('private:b');
    const sid = client.sid;
    await waitFor(() => changes.some((c) => c.kind === 'token_refreshed'), {
      timeoutMs: 10_000,
      what: 'refresh',
    });
    await sleep(6000); // past the first token's expiry
    expect(changes).toContainEqual({ kind: 'token_refreshed', ok: true, reason: null });
    expect(changes.filter((c) => c.kind === 'goodbye' || c.kind === 'disconnected')).toEqual([]);
    expect(client.sid).toBe(sid);
    expect(client.user).toBe('hana');
    expect(issued).toBeGreaterThanOrEqual(2);
    // The server took it out of private:b, and the client knows.
    expect([...client.rooms]).toEqual(['private:a']);
    expect(changes).toContainEqual({
      kind: 'unsubscribed',
      room: 'private:b',
      code: 'forbidden',
      reason: 'the refreshed token does not allow private:b',
    });
  });

  it('reports token_expired when a fixed token runs out, and does not loop', async () => {
    const client = new PushClient(node.url, {
      transports: ['websocket'],
      token: await testToken({ ttlSeconds: 2 }),
    });
    pushClients.push(client);
    await client.ready();
    await waitFor(() => client.status.state === 'disconnected', {
      timeoutMs: 6000,
      what: 'disconnected',
    });
    expect(client.status).toMatchObject({ state: 'disconnected', code: 'token_expired' });
  });
});

describe('limits', () => {
  it('refuses events over the rate, cuts a client that keeps going, and others keep receiving', async () => {
    const node = await start({
      NODE_ID: 'limited',
      CLIENT_EVENT_RATE: '5',
      CLIENT_EVENT_BURST: '10',
    });
    const bystander = await connect(node, await testToken());
    await subscribe(bystander, 'steady');
    const flooder = await connect(node, await testToken());
    const goodbye = new Promise((resolve) => flooder.socket.once('goodbye', resolve));
    const acks = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        emitAck(flooder, 'subscribe', `flood-${i}`).catch(() => 'no answer'),
      ),
    );
    const codes = acks.map(
      (a) =>
        (a as { ok: boolean; error?: { code: string } }).error?.code ??
        (a === 'no answer' ? a : 'ok'),
    );
    expect(codes.slice(0, 10)).toEqual(Array(10).fill('ok'));
    expect(codes.slice(10, 20)).toEqual(Array(10).fill('rate_limited'));
    expect(await goodbye).toEqual({ code: 'rate_limited', message: expect.any(String) });
    await waitFor(() => !flooder.socket.connected, { what: 'flooder cut off' });
    const response = await postPublish(node.url, API_KEYS[0] as string, {
      room: 'steady',
      data: 'still here',
    });
    expect(response.status).toBe(202);
    await waitFor(() => bystander.received.length === 1, { what: 'bystander delivery' });
    expect(bystander.socket.connected).toBe(true);
  });

  it('answers 503 too_many_connections to new sessions once the node is full, for polling and WebSocket', async () => {
    const node = await start({ NODE_ID: 'full', MAX_CONNECTIONS: '2' });
    const first = await connect(node, await testToken());
    await connect(node, await testToken());
    const polling = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
    expect(polling.status).toBe(503);
    expect(polling.headers.get('retry-after')).toBe('1');
    expect(polling.headers.get('x-node-id')).toBe('full');
    expect(await polling.json()).toMatchObject({ error: { code: 'too_many_connections' } });
    const websocket = await connectClient(node.url, {
      transports: ['websocket'],
      token: await testToken(),
    }).catch((error: Error) => error);
    expect(websocket).toBeInstanceOf(Error);
    first.close();
    await waitFor(
      async () => (await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`)).status === 200,
      { what: 'room again' },
    );
  });

  it('limits the publish API per key: 429 with Retry-After over PUBLISH_API_RATE', async () => {
    const node = await start({ NODE_ID: 'api-rate', PUBLISH_API_RATE: '3' });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 5; i++) {
      const response = await postPublish(node.url, API_KEYS[0] as string, { room: 'r', data: i });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    expect(limited?.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(await limited?.json()).toMatchObject({ error: { code: 'rate_limited' } });
    // The other key has its own budget.
    expect(
      (await postPublish(node.url, API_KEYS[1] as string, { room: 'r', data: 'x' })).status,
    ).toBe(202);
  });
});

describe('connections per user across nodes', () => {
  let redis: StartedRedisContainer;
  let a: InProcessNode;
  let b: InProcessNode;
  beforeAll(async () => {
    redis = await new RedisContainer('redis:7-bookworm').start();
    const env = { REDIS_URL: redis.getConnectionUrl(), MAX_CONNECTIONS_PER_USER: '2' };
    [a, b] = await Promise.all([
      start({ NODE_ID: 'pu-a', ...env }),
      start({ NODE_ID: 'pu-b', ...env }),
    ]);
    await waitFor(() => a.server.backend.isReady() && b.server.backend.isReady(), {
      what: 'Redis',
    });
  });
  afterAll(async () => {
    await Promise.all([a.server.close(), b.server.close()]);
    await redis?.stop();
  });

  it("drops a dead node's counts once its liveness expires", async () => {
    const redisClient = new Redis(redis.getConnectionUrl());
    const silent = createLogger('t', 'silent');
    const doomedNode = new NodeLiveness(redisClient, 'doomed');
    const survivorNode = new NodeLiveness(redisClient, 'survivor');
    const doomed = redisUserConnections(redisClient, doomedNode, 2, silent);
    const survivor = redisUserConnections(redisClient, survivorNode, 2, silent);
    try {
      await waitFor(() => redisClient.status === 'ready', { what: 'Redis client' });
      expect(await doomed.acquire('kim')).toBe(true);
      expect(await doomed.acquire('kim')).toBe(true);
      expect(await survivor.acquire('kim')).toBe(false);
      // The node goes without releasing: its liveness ends (here: it says so; killed, it would
      // run out 10 s after its last heartbeat). The survivor learns it at its next heartbeat.
      await doomedNode.close();
      await waitFor(() => survivor.acquire('kim'), { timeoutMs: 10_000, what: 'a slot for kim' });
      expect(await redisClient.hkeys(userConnectionsKey('kim'))).toEqual([
        expect.stringMatching(/^survivor:/),
      ]);
    } finally {
      await doomedNode.close();
      await survivorNode.close();
      redisClient.disconnect();
    }
  });

  it('counts a user on every node, and frees the slot when a connection ends', async () => {
    const token = await testToken({ sub: 'ivan' });
    const onA = await connect(a, token);
    await connect(b, token);
    expect(await refusal(a, token)).toMatchObject({ code: 'too_many_connections' });
    expect(await refusal(b, token)).toMatchObject({ code: 'too_many_connections' });
    // Another user is not affected; guests are not counted.
    await connect(a, await testToken({ sub: 'judy' }));
    onA.close();
    await waitFor(
      async () =>
        await connectClient(b.url, { token, transports: ['websocket'] }).then(
          (c) => {
            clients.push(c);
            return true;
          },
          () => false,
        ),
      {
        what: 'a free slot after a disconnect',
      },
    );
  });

  it("follows a user's own room while admitting, and lets go of it when the user is refused", async () => {
    const direct = new Redis(redis.getConnectionUrl());
    const channel = roomChannel('user:kate');
    const followers = async () =>
      Number(((await direct.pubsub('NUMSUB', channel)) as [string, number])[1]);
    try {
      const token = await testToken({ sub: 'kate' });
      await connect(a, token);
      await connect(a, token);
      expect(await followers()).toBe(1);
      // Refused on b (kate holds her two connections on a): b follows nothing of hers.
      expect(await refusal(b, token)).toMatchObject({ code: 'too_many_connections' });
      await settle(200);
      expect(await followers()).toBe(1);
    } finally {
      direct.disconnect();
    }
  });
});

describe('development mode (no token key)', () => {
  it('admits everyone as a guest who may publish to the demo rooms only, and refuses tokens', async () => {
    const node = await start({
      NODE_ID: 'dev',
      AUTH_JWT_SECRET: '',
      ALLOW_GUESTS: '',
      GUEST_ROOMS: '',
    });
    const guest = await connect(node);
    expect(await emitAck(guest, 'subscribe', 'orders')).toMatchObject({ ok: true });
    expect(guest.user).toMatch(/^guest-[A-Za-z0-9_-]{12}$/);
    expect(await emitAck(guest, 'publish', { room: 'demo:x', data: 1 })).toMatchObject({
      ok: true,
    });
    expect(await emitAck(guest, 'publish', { room: 'lobby', data: 1 })).toMatchObject({ ok: true });
    expect(await emitAck(guest, 'publish', { room: 'orders', data: 1 })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await emitAck(guest, 'publish', { data: 1 })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await emitAck(guest, 'subscribe', 'private:x')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await refusal(node, await testToken({}, TEST_JWT_SECRET))).toMatchObject({
      code: 'token_invalid',
    });
  });
});

describe('guests on a node with a token key', () => {
  it('read no room unless GUEST_ROOMS names it (the production default)', async () => {
    const closed = await start({ NODE_ID: 'guests-none', ALLOW_GUESTS: 'true', GUEST_ROOMS: '' });
    const guest = await connect(closed);
    expect(guest.user).toMatch(/^guest-/);
    expect(await emitAck(guest, 'subscribe', 'lobby')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    const open = await start({
      NODE_ID: 'guests-lobby',
      ALLOW_GUESTS: 'true',
      GUEST_ROOMS: 'lobby',
    });
    const welcome = await connect(open);
    expect(await emitAck(welcome, 'subscribe', 'lobby')).toMatchObject({ ok: true });
    expect(await emitAck(welcome, 'subscribe', 'orders')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
  });
});
