import { RedisContainer, type StartedRedisContainer } from '@testcontainers/redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeLiveness } from '../../src/cluster/redis/node-liveness.js';
import { RedisPresence } from '../../src/cluster/redis/redis-presence.js';
import { createLogger } from '../../src/observability/logger.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import {
  connectClient,
  emitAck,
  settle,
  subscribe,
  type TestClient,
} from '../support/test-client.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/** Who is in a room, cluster-wide: two nodes on one Redis, PRESENCE_ROOMS=chat:*. */
const API_KEY = 'presence-test-publish-key';
let redis: StartedRedisContainer;
let a: InProcessNode;
let b: InProcessNode;
const clients: TestClient[] = [];

beforeAll(async () => {
  redis = await new RedisContainer('redis:7-bookworm').start();
  const env = {
    REDIS_URL: redis.getConnectionUrl(),
    PUBLISH_API_KEYS: API_KEY,
    PRESENCE_ROOMS: 'chat:*,private:chat-*',
  };
  [a, b] = await Promise.all([
    startInProcessNode({ NODE_ID: 'pres-a', ...env }),
    startInProcessNode({ NODE_ID: 'pres-b', ...env }),
  ]);
  await waitFor(() => a.server.backend.isReady() && b.server.backend.isReady(), { what: 'Redis' });
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await Promise.all([a?.server.close(), b?.server.close()]);
  await redis?.stop();
});

async function as(node: InProcessNode, user: string) {
  const client = await connectClient(node.url, {
    token: await testToken({ sub: user }),
    transports: ['websocket'],
  });
  clients.push(client);
  return client;
}

const membersOf = async (client: TestClient, room: string) =>
  ((await emitAck(client, 'presence', room)) as { users: string[] }).users.sort();

const overHttp = async (node: InProcessNode, room: string) =>
  fetch(`${node.url}/api/rooms/${room}/presence`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  });

describe('presence', () => {
  it('a refreshed token that no longer allows a presence room takes the user out: members are told', async () => {
    const room = 'private:chat-refresh';
    const ivy = await as(a, 'ivy');
    await subscribe(ivy, room);
    const kim = await connectClient(b.url, {
      token: await testToken({ sub: 'kim', rooms: ['private:chat-*'] }),
      transports: ['websocket'],
    });
    clients.push(kim);
    await subscribe(kim, room);
    await waitFor(async () => (await membersOf(ivy, room)).length === 2, { what: 'two members' });
    const fresh = await testToken({ sub: 'kim', rooms: ['private:other'] });
    expect(await emitAck(kim, 'refresh', fresh)).toMatchObject({ ok: true });
    await waitFor(
      () => ivy.presence.some((change) => change.user === 'kim' && change.action === 'leave'),
      { what: "kim's leave, told to ivy" },
    );
    expect(await membersOf(ivy, room)).toEqual(['ivy']);
    expect(kim.unsubscribed).toMatchObject([{ room, code: 'forbidden' }]);
  });

  it('counts each user once across tabs and nodes, and tells members who arrives and leaves', async () => {
    const room = 'chat:team';
    const aliceTab1 = await as(a, 'alice');
    await subscribe(aliceTab1, room);
    await waitFor(() => aliceTab1.presence.length === 1, { what: "alice's own arrival" });
    const bob = await as(a, 'bob');
    await subscribe(bob, room);
    const aliceTab2 = await as(b, 'alice');
    await subscribe(aliceTab2, room);
    await waitFor(async () => (await membersOf(bob, room)).length === 2, { what: 'two members' });
    expect(await membersOf(aliceTab2, room)).toEqual(['alice', 'bob']);
    const http = await overHttp(b, room);
    expect(await http.json()).toEqual({ room, users: ['alice', 'bob'] });
    await settle(200);
    // Alice's second tab, on the other node, did not announce her again.
    expect(aliceTab1.presence).toEqual([
      { room, user: 'alice', action: 'join' },
      { room, user: 'bob', action: 'join' },
    ]);

    // One of her tabs leaves: she is still there. The other goes: she leaves.
    await emitAck(aliceTab1, 'unsubscribe', room);
    aliceTab2.close();
    await waitFor(() => bob.presence.some((c) => c.action === 'leave'), { what: 'her leaving' });
    await settle(200);
    expect(bob.presence).toEqual([
      { room, user: 'bob', action: 'join' },
      { room, user: 'alice', action: 'leave' },
    ]);
    expect(await membersOf(bob, room)).toEqual(['bob']);
  });

  it('includes guests, and is only for PRESENCE_ROOMS and for those who may see the room', async () => {
    const guest = await connectClient(a.url, { transports: ['websocket'] });
    clients.push(guest);
    await subscribe(guest, 'chat:open');
    await waitFor(async () => (await membersOf(guest, 'chat:open')).length === 1, {
      what: 'the guest',
    });
    expect(await membersOf(guest, 'chat:open')).toEqual([guest.user]);
    expect(await emitAck(guest, 'presence', 'lobby')).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(await emitAck(guest, 'presence', 'private:chat')).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await emitAck(guest, 'presence', 'bad room')).toMatchObject({
      ok: false,
      error: { code: 'invalid_room' },
    });
    const http = await overHttp(a, 'lobby');
    expect(http.status).toBe(400);
    expect((await fetch(`${a.url}/api/rooms/chat:open/presence`)).status).toBe(401);
  });

  it("drops a dead node's users within seconds, and announces that they left", async () => {
    const client = new Redis(redis.getConnectionUrl());
    const silent = createLogger('t', 'silent');
    const doomedNode = new NodeLiveness(client, 'doomed');
    const doomed = new RedisPresence(client, doomedNode, silent);
    const watcher = await as(b, 'watcher');
    await subscribe(watcher, 'chat:ghosts');
    try {
      await waitFor(() => client.status === 'ready', { what: 'Redis' });
      expect(await doomed.join('chat:ghosts', 'carol')).toBe(true);
      expect(await membersOf(watcher, 'chat:ghosts')).toEqual(['carol', 'watcher']);
      // The node goes: no leave, its liveness ends (it says so here instead of running out 10 s
      // after its last heartbeat, as when killed).
      await doomed.close();
      await doomedNode.close();
      const started = Date.now();
      await waitFor(
        () => watcher.presence.some((c) => c.user === 'carol' && c.action === 'leave'),
        {
          timeoutMs: 10_000,
          what: "carol's leave",
        },
      );
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await membersOf(watcher, 'chat:ghosts')).toEqual(['watcher']);
    } finally {
      client.disconnect();
    }
  });
});
