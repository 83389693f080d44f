import { Redis } from 'ioredis';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { roomChannel } from '../../src/cluster/redis/redis-keys.js';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { connectClient, subscribe, type TestClient } from '../support/test-client.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * Rooms on their own channels: a node subscribes to a room's Redis channel while the room has
 * members on it, so that it receives its own rooms' traffic and not the whole cluster's.
 */
const API_KEY = 'room-channels-test-key';
const ADMIN_KEY = 'room-channels-admin-key';
let redis: StartedTestContainer;
let direct: Redis;
let a: InProcessNode;
let b: InProcessNode;
const clients: TestClient[] = [];

beforeAll(async () => {
  redis = await new GenericContainer('redis:7-bookworm')
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  const url = `redis://127.0.0.1:${redis.getMappedPort(6379)}`;
  direct = new Redis(url);
  const env = { REDIS_URL: url, PUBLISH_API_KEYS: API_KEY, ADMIN_API_KEY: ADMIN_KEY };
  [a, b] = await Promise.all([
    startInProcessNode({ NODE_ID: 'ch-a', ...env }),
    startInProcessNode({ NODE_ID: 'ch-b', ...env }),
  ]);
  await waitFor(() => a.server.backend.isReady() && b.server.backend.isReady(), { what: 'Redis' });
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await Promise.all([a?.server.close(), b?.server.close()]);
  direct?.disconnect();
  await redis?.stop();
});

/** How many connections (nodes) are subscribed to `room`'s channel. */
async function followers(room: string): Promise<number> {
  const [, count] = (await direct.pubsub('NUMSUB', roomChannel(room))) as [string, number];
  return Number(count);
}

async function client(node: InProcessNode, ...rooms: string[]): Promise<TestClient> {
  const connected = await connectClient(node.url, {
    transports: ['websocket'],
    token: await testToken({ sub: `u-${Math.random()}` }),
  });
  clients.push(connected);
  for (const room of rooms) await subscribe(connected, room);
  return connected;
}

/** The room messages `node` received from Redis so far. */
async function feed(node: InProcessNode): Promise<number> {
  const text = await (
    await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
  ).text();
  const line = text.split('\n').find((l) => l.startsWith('push_room_feed_messages_total'));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

describe('rooms on their own channels', () => {
  it('subscribes a node to a room with its first member and drops it with the last', async () => {
    const room = 'ch-lifecycle';
    expect(await followers(room)).toBe(0);
    const first = await client(a, room);
    expect(await followers(room)).toBe(1);
    const second = await client(a, room);
    const third = await client(b, room);
    expect(await followers(room)).toBe(2);

    const published = await postPublish(a.url, API_KEY, { room, data: 'to all three' });
    expect(published.status).toBe(202);
    await waitFor(() => [first, second, third].every((c) => c.received.length === 1), {
      what: 'every member',
    });

    const left = await third.socket.timeout(5000).emitWithAck('unsubscribe', room);
    expect(left).toMatchObject({ ok: true });
    await waitFor(async () => (await followers(room)) === 1, { what: 'ch-b unsubscribed' });
    first.close();
    expect(await followers(room)).toBe(1);
    second.close();
    await waitFor(async () => (await followers(room)) === 0, { what: 'ch-a unsubscribed' });
  });

  it("brings a node only its rooms' messages", async () => {
    await client(a, 'ch-only-a');
    const onB = await client(b, 'ch-on-b');
    const [beforeA, beforeB] = [await feed(a), await feed(b)];
    for (let i = 0; i < 20; i++) {
      expect((await postPublish(b.url, API_KEY, { room: 'ch-only-a', data: i })).status).toBe(202);
    }
    expect((await postPublish(a.url, API_KEY, { room: 'ch-on-b', data: 'last' })).status).toBe(202);
    // B's own room's message was published last: once it arrived, A's would have too.
    await waitFor(() => onB.received.length === 1, { what: "ch-b's message" });
    await waitFor(async () => (await feed(a)) - beforeA === 20, { what: "ch-a's 20 messages" });
    expect((await feed(b)) - beforeB).toBe(1);
  });

  it('follows a user’s own room while the user is connected there', async () => {
    const user = `ch-user-${Date.now()}`;
    const connected = await connectClient(b.url, {
      transports: ['websocket'],
      token: await testToken({ sub: user }),
    });
    clients.push(connected);
    expect(await followers(`user:${user}`)).toBe(1);
    const sent = await postPublish(a.url, API_KEY, { user, data: 'for you' });
    expect(sent.status).toBe(202);
    await waitFor(() => connected.received.length === 1, { what: 'the user message' });
    connected.close();
    await waitFor(async () => (await followers(`user:${user}`)) === 0, { what: 'user room left' });
  });
});
