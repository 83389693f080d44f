import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postPublish } from '../support/http-publish.js';
import {
  NODE_IDS,
  PushClusterContainer,
  type StartedPushCluster,
} from '../support/push-cluster-container.js';
import {
  connectClient,
  connectOnEveryNode,
  emitAck,
  settle,
  subscribe,
  type TestClient,
} from '../support/test-client.js';
import { waitFor } from '../support/wait.js';

/**
 * The cluster as deployed: the image built from the repository's Dockerfile, three nodes, Redis
 * and nginx with the repository's config, all in containers; every client goes through nginx.
 */
const MAX_PAYLOAD_BYTES = 4096;
let cluster: StartedPushCluster;
const clients: TestClient[] = [];
const track = (list: TestClient[]) => {
  clients.push(...list);
  return list;
};

beforeAll(async () => {
  cluster = await new PushClusterContainer()
    .withApiKey('container-cluster-publish-key')
    .withNodeEnvironment({ MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) })
    .start();
});

afterAll(async () => {
  for (const client of clients) client.close();
  await cluster?.stop();
});

const publishOverHttp = (body: unknown, init: { key?: string; raw?: string } = {}) =>
  postPublish(cluster.url, init.key ?? cluster.apiKey, init.raw ?? body);

describe.each([
  ['websocket-only', ['websocket'] as const],
  ['polling-only', ['polling'] as const],
])('through nginx, %s clients', (_name, transports) => {
  it('on every node receive a message published on another node, exactly once', async () => {
    const room = `orders:${transports[0]}`;
    const subscribers = track(
      await connectOnEveryNode(cluster.url, NODE_IDS, {
        transports: [...transports],
        token: await cluster.token(),
      }),
    );
    const outsiders = track(
      await connectOnEveryNode(cluster.url, NODE_IDS, { transports: [...transports] }),
    );
    for (const client of subscribers) await subscribe(client, room);
    const [publisher] = subscribers.filter((c) => c.node === 'node2');
    if (publisher === undefined) throw new Error('no subscriber on node2');

    const ack = await publisher.socket.timeout(5000).emitWithAck('publish', {
      room,
      event: 'order.updated',
      data: { status: 'shipped' },
    });
    if (!ack.ok) throw new Error(ack.error.message);

    await waitFor(() => subscribers.every((c) => c.receivedWithId(ack.id) >= 1), {
      what: 'delivery to a subscriber on every node',
    });
    await settle();
    expect(new Set(subscribers.map((c) => c.node))).toEqual(new Set(NODE_IDS));
    for (const client of subscribers) {
      expect(client.received).toEqual([
        {
          event: 'order.updated',
          envelope: {
            id: ack.id,
            room,
            data: { status: 'shipped' },
            node: 'node2',
            ts: expect.any(Number),
            offset: ack.offset,
            epoch: ack.epoch,
          },
        },
      ]);
    }
    for (const client of outsiders) expect(client.received).toEqual([]);
  });
});

describe('the HTTP publish API through nginx', () => {
  it('delivers a backend publish to subscribers on every node and answers 202 with the id', async () => {
    const subscribers = track(await connectOnEveryNode(cluster.url, NODE_IDS));
    for (const client of subscribers) await subscribe(client, 'backend');
    const response = await publishOverHttp({ room: 'backend', data: { n: 1 } });
    expect(response.status).toBe(202);
    // nginx's request id, which the node logs with the request.
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(NODE_IDS).toContain(response.headers.get('x-node-id'));
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => subscribers.every((c) => c.receivedWithId(id) === 1), {
      what: 'backend publish on every node',
    });
    await settle();
    for (const client of subscribers) expect(client.receivedWithId(id)).toBe(1);
  });

  it('answers 400 for malformed JSON and for a schema violation, with the reason', async () => {
    const listener = track([await connectClient(cluster.url)]);
    const malformed = await publishOverHttp(undefined, { raw: '{"data": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('x-node-id')).toMatch(/^node[123]$/);
    expect(await malformed.json()).toMatchObject({ error: { code: 'bad_request' } });

    const badRoom = await publishOverHttp({ room: 'no spaces allowed', data: 1 });
    expect(badRoom.status).toBe(400);
    const body = (await badRoom.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_room');
    expect(body.error.message).toMatch(/room/i);

    await settle();
    expect(listener[0]?.received).toEqual([]);
  });

  it('answers 401 without the right key, and 413 over MAX_PAYLOAD_BYTES', async () => {
    const listener = track([await connectClient(cluster.url)]);
    const wrongKey = await publishOverHttp({ data: 1 }, { key: 'not-the-key-at-all' });
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await wrongKey.json()).toMatchObject({ error: { code: 'unauthorized' } });

    const tooBig = await publishOverHttp({ data: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) });
    expect(tooBig.status).toBe(413);
    expect(tooBig.headers.get('x-node-id')).toMatch(/^node[123]$/);
    expect(await tooBig.json()).toMatchObject({ error: { code: 'payload_too_large' } });

    await settle();
    expect(listener[0]?.received).toEqual([]);
  });
});

describe('stickiness for many clients behind one address', () => {
  it('spreads 100 polling-only clients over all 3 nodes with zero connect errors', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () =>
        connectClient(cluster.url, { transports: ['polling'], timeoutMs: 20_000 }),
      ),
    );
    const connected = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    track(connected);
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(errors).toEqual([]);
    // Every session survives further requests (a long-poll POST and GET each) on its own node.
    await Promise.all(connected.map((client) => subscribe(client, 'crowd')));
    const perNode = Object.fromEntries(
      NODE_IDS.map((id) => [id, connected.filter((c) => c.node === id).length]),
    );
    for (const id of NODE_IDS) expect(perNode[id], JSON.stringify(perNode)).toBeGreaterThan(0);

    const response = await publishOverHttp({ room: 'crowd', data: 'hello crowd' });
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => connected.every((c) => c.receivedWithId(id) === 1), {
      timeoutMs: 20_000,
      what: 'delivery to all 100 polling clients',
    });
    for (const client of connected) client.close();
  });
});

/** One client on `node`, for a user with `grant`. */
async function onNode(
  node: (typeof NODE_IDS)[number],
  grant: Parameters<StartedPushCluster['token']>[0] = {},
) {
  const token = await cluster.token(grant);
  const [client] = track(
    await connectOnEveryNode(cluster.url, [node], { token, transports: ['websocket'] }),
  );
  if (client === undefined) throw new Error(`no client on ${node}`);
  return client;
}

describe('permissions through nginx, across nodes (tokens from a JWKS on the network)', () => {
  it('keep private rooms, user rooms and publishing to what each token allows', async () => {
    const alice = await onNode('node1', { sub: 'alice', rooms: ['private:team-1'], publish: [] });
    const bob = await onNode('node2', { sub: 'bob', rooms: ['private:team-*'], publish: [] });
    const mallory = await onNode('node3', { sub: 'mallory', rooms: [], publish: ['chat:*'] });
    const lead = await onNode('node3', { sub: 'lead', rooms: [], publish: ['private:team-1'] });
    expect(await emitAck(alice, 'subscribe', 'private:team-1')).toMatchObject({ ok: true });
    expect(await emitAck(bob, 'subscribe', 'private:team-1')).toMatchObject({ ok: true });
    expect(await emitAck(mallory, 'subscribe', 'private:team-1')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await emitAck(mallory, 'subscribe', 'user:alice')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(
      await emitAck(mallory, 'publish', { room: 'private:team-1', data: 'leak?' }),
    ).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await emitAck(mallory, 'publish', { data: 'everyone?' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await emitAck(mallory, 'publish', { user: 'alice', data: 'dm?' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    const sent = (await emitAck(lead, 'publish', { room: 'private:team-1', data: 'standup' })) as {
      ok: boolean;
      id: string;
    };
    expect(sent.ok).toBe(true);

    // Alice's second tab, on another node, and a backend push to her.
    const aliceTab = await onNode('node2', { sub: 'alice', rooms: [], publish: [] });
    const response = await publishOverHttp({ user: 'alice', event: 'dm', data: 'for alice' });
    expect(response.status).toBe(202);
    await waitFor(
      () =>
        alice.received.length === 2 && bob.received.length === 1 && aliceTab.received.length === 1,
      {
        what: 'team and user deliveries',
      },
    );
    await settle();
    expect(alice.received.map((r) => r.envelope.data)).toEqual(['standup', 'for alice']);
    expect(aliceTab.received.map((r) => [r.event, r.envelope.room, r.envelope.data])).toEqual([
      ['dm', 'user:alice', 'for alice'],
    ]);
    expect(bob.received.map((r) => r.envelope.data)).toEqual(['standup']);
    expect(mallory.received).toEqual([]);
  });

  it('refuse tokens the key set does not vouch for, and give guests guest rights', async () => {
    const hs256 = await connectClient(cluster.url, {
      transports: ['websocket'],
      token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtIiwiZXhwIjo0MTAyNDQ0ODAwfQ.sig',
    }).catch((error: { data?: unknown }) => error.data);
    expect(hs256).toMatchObject({ code: 'token_invalid' });
    const guest = track([
      await connectClient(cluster.url, { transports: ['polling'] }),
    ])[0] as TestClient;
    expect(guest.user).toMatch(/^guest-/);
    expect(await emitAck(guest, 'subscribe', 'lobby')).toMatchObject({ ok: true });
    expect(await emitAck(guest, 'subscribe', 'private:team-1')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await emitAck(guest, 'publish', { room: 'lobby', data: 'hi' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
  });
});

describe('floods through nginx', () => {
  it('are limited (handshakes 429, event floods cut) while other clients keep receiving every message', async () => {
    const watchers = track(
      await connectOnEveryNode(cluster.url, NODE_IDS, {
        token: await cluster.token(),
        transports: ['websocket'],
      }),
    );
    for (const watcher of watchers) await subscribe(watcher, 'steady');
    const flooders = await Promise.all(NODE_IDS.map((node) => onNode(node)));
    const cutOff = Promise.all(
      flooders.map((f) => new Promise((resolve) => f.socket.once('goodbye', resolve))),
    );

    // A steady stream of 100 messages, published over HTTP while the floods run.
    const stream = (async () => {
      const ids: string[] = [];
      for (let i = 0; i < 100; i++) {
        const response = await publishOverHttp({ room: 'steady', data: i });
        expect(response.status).toBe(202);
        ids.push(((await response.json()) as { id: string }).id);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return ids;
    })();
    // 2,500 new sessions from one address, 250 at a time: past nginx's burst of 2,000.
    const statuses: number[] = [];
    let firstLimited: { retryAfter: string | null; body: unknown } | undefined;
    const handshakeFlood = (async () => {
      for (let sent = 0; sent < 2500; sent += 250) {
        const batch = await Promise.all(
          Array.from({ length: 250 }, () =>
            fetch(`${cluster.url}/socket.io/?EIO=4&transport=polling`).then(async (r) => {
              const body = await r.text();
              if (r.status === 429 && firstLimited === undefined) {
                firstLimited = { retryAfter: r.headers.get('retry-after'), body: JSON.parse(body) };
              }
              return r.status;
            }),
          ),
        );
        statuses.push(...batch);
      }
    })();
    for (const flooder of flooders) {
      const odd = flooder.socket as unknown as { emit(event: string, ...args: unknown[]): void };
      for (let i = 0; i < 300; i++) odd.emit('subscribe', `flood-${i}`);
    }
    const [ids] = await Promise.all([stream, handshakeFlood, cutOff]);

    const limited = statuses.filter((status) => status === 429).length;
    expect(limited).toBeGreaterThan(0);
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    expect(firstLimited).toEqual({
      retryAfter: '1',
      body: { error: { code: 'rate_limited', message: expect.any(String) } },
    });
    await waitFor(() => flooders.every((f) => !f.socket.connected), { what: 'flooders cut off' });
    await waitFor(() => watchers.every((w) => w.received.length >= 100), {
      what: 'the whole stream',
    });
    await settle();
    for (const watcher of watchers) {
      expect(watcher.socket.connected).toBe(true);
      expect(watcher.received.map((r) => r.envelope.id)).toEqual(ids);
    }
  });
});

describe('a node stopped with SIGTERM', () => {
  it('exits 0 within 10 s and its clients reconnect to the other nodes', async () => {
    const onNode3 = track(
      await connectOnEveryNode(cluster.url, ['node3'], { perNode: 4, reconnection: true }),
    );
    const watcher = track(await connectOnEveryNode(cluster.url, ['node1'], { reconnection: true }));
    for (const client of [...onNode3, ...watcher]) await subscribe(client, 'failover');

    const stop = await cluster.stopNode('node3');
    expect(stop.exitCode).toBe(0);
    expect(stop.elapsedMs).toBeLessThan(10_000);

    await waitFor(() => onNode3.every((c) => c.socket.connected && c.node !== 'node3'), {
      timeoutMs: 20_000,
      what: 'reconnection of node3 clients to another node',
    });
    for (const client of onNode3) await subscribe(client, 'failover');
    const response = await publishOverHttp({ room: 'failover', data: 'after node3' });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const everyone = [...onNode3, ...watcher];
    // Wait, then assert on each client's state, so that a failure says which client missed it.
    await waitFor(() => everyone.every((c) => c.receivedWithId(id) === 1), {
      what: 'delivery after failover',
    }).catch(() => undefined);
    const state = (c: TestClient) => ({
      node: c.node,
      connected: c.socket.connected,
      deliveries: c.receivedWithId(id),
    });
    expect(everyone.map(state)).toEqual(
      everyone.map(() => ({
        node: expect.stringMatching(/^node[12]$/),
        connected: true,
        deliveries: 1,
      })),
    );
  });
});
