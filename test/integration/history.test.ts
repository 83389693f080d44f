import { randomUUID } from 'node:crypto';
import { RedisContainer, type StartedRedisContainer } from '@testcontainers/redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/shared/free-port.js';
import { PushClient, type StatusChange } from '../../src/client/index.js';
import { roomLogKey, roomMetaKey } from '../../src/cluster/redis/redis-keys.js';
import { RedisRoomLog } from '../../src/cluster/redis/redis-room-log.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Envelope, RoomAck } from '../../src/protocol/index.js';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { connectClient, emitAck, settle, type TestClient } from '../support/test-client.js';
import { testToken } from '../support/tokens.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * One order per room and recovery from history, on nodes in this process sharing a Redis
 * container (and on a single node without Redis).
 */
const API_KEY = 'history-test-publish-key';
let redis: StartedRedisContainer;
let redisUrl: string;
const nodes: InProcessNode[] = [];
const clients: TestClient[] = [];
const pushClients: PushClient[] = [];
let roomCount = 0;
const freshRoom = (label: string) => `${label}-${++roomCount}-${Date.now().toString(36)}`;

async function start(env: Record<string, string> = {}): Promise<InProcessNode> {
  const node = await startInProcessNode({
    PUBLISH_API_KEYS: API_KEY,
    REDIS_URL: redisUrl,
    CLIENT_EVENT_BURST: '5000',
    ...env,
  });
  nodes.push(node);
  await waitFor(() => node.server.backend.isReady(), { what: 'Redis' });
  return node;
}

async function connect(node: InProcessNode): Promise<TestClient> {
  const client = await connectClient(node.url, {
    token: await testToken(),
    transports: ['websocket'],
  });
  clients.push(client);
  return client;
}

const subscribe = (client: TestClient, room: string, since?: { offset: number; epoch: string }) =>
  (since === undefined
    ? emitAck(client, 'subscribe', room)
    : emitAck(client, 'subscribe', room, { since })) as Promise<Extract<RoomAck, { ok: true }>>;

const offsetsOf = (client: TestClient, room: string) =>
  client.received.filter((r) => r.envelope.room === room).map((r) => r.envelope.offset);

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function publish(node: InProcessNode, room: string, data: unknown) {
  const response = await postPublish(node.url, API_KEY, { room, data });
  expect(response.status).toBe(202);
  return (await response.json()) as { id: string; offset: number; epoch: string };
}

beforeAll(async () => {
  redis = await new RedisContainer('redis:7-bookworm').start();
  redisUrl = redis.getConnectionUrl();
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const client of pushClients.splice(0)) client.close();
});

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.server.close()));
  await redis?.stop();
});

describe('one order per room', () => {
  it('gives every subscriber the same order, offset by offset, whichever node publishes', async () => {
    const [a, b, c] = [
      await start({ NODE_ID: 'ord-a' }),
      await start({ NODE_ID: 'ord-b' }),
      await start({ NODE_ID: 'ord-c' }),
    ];
    const room = freshRoom('order');
    const subscribers = [await connect(a), await connect(b), await connect(c)];
    for (const client of subscribers)
      expect(await subscribe(client, room)).toMatchObject({ ok: true, offset: 0 });
    const [onA, onB] = [await connect(a), await connect(b)];
    // Two publishers on two nodes, 100 messages each, all in flight at once.
    const acks = await Promise.all(
      Array.from({ length: 100 }, (_, i) => [
        emitAck(onA, 'publish', { room, data: `a${i}` }),
        emitAck(onB, 'publish', { room, data: `b${i}` }),
      ]).flat(),
    );
    const offsets = (acks as Array<{ ok: boolean; offset: number }>)
      .map((ack) => ack.offset)
      .sort((x, y) => x - y);
    expect(offsets).toEqual(range(1, 200));
    await waitFor(() => subscribers.every((s) => s.received.length === 200), { what: '200 each' });
    await settle();
    const first = subscribers[0]?.received.map((r) => r.envelope.id);
    for (const subscriber of subscribers) {
      expect(offsetsOf(subscriber, room)).toEqual(range(1, 200));
      expect(subscriber.received.map((r) => r.envelope.id)).toEqual(first);
    }
    // Each publisher's own messages keep the order it sent them in.
    const data = subscribers[0]?.received.map((r) => String(r.envelope.data)) ?? [];
    expect(data.filter((d) => d.startsWith('a'))).toEqual(range(0, 99).map((i) => `a${i}`));
  });

  it('answers a publish with its offset and epoch, as subscribers see them', async () => {
    const node = await start({ NODE_ID: 'ack' });
    const room = freshRoom('ack');
    const subscriber = await connect(node);
    await subscribe(subscriber, room);
    const first = await publish(node, room, 1);
    const second = (await emitAck(await connect(node), 'publish', { room, data: 2 })) as {
      offset: number;
      epoch: string;
    };
    expect(first).toEqual({
      id: expect.any(String),
      offset: 1,
      epoch: expect.stringMatching(/^[\w-]{12}$/),
    });
    expect(second).toMatchObject({ ok: true, offset: 2, epoch: first.epoch });
    await waitFor(() => subscriber.received.length === 2, { what: 'both' });
    expect(subscriber.received.map((r) => [r.envelope.offset, r.envelope.epoch])).toEqual([
      [1, first.epoch],
      [2, first.epoch],
    ]);
    // A message to everyone has no place in a room.
    const everyone = await postPublish(node.url, API_KEY, { data: 'all' });
    expect(await everyone.json()).toEqual({ id: expect.any(String) });
  });
});

describe('recovery', () => {
  it('replays on another node what a client missed, then live messages, with no gap and no duplicate', async () => {
    const [a, b] = [await start({ NODE_ID: 'rec-a' }), await start({ NODE_ID: 'rec-b' })];
    const room = freshRoom('recover');
    const before = await connect(a);
    const position = await subscribe(before, room);
    await publish(a, room, 'seen');
    await waitFor(() => before.received.length === 1, { what: 'the first message' });
    const since = { offset: 1, epoch: position.epoch as string };
    before.close();
    for (let i = 0; i < 10; i++) await publish(b, room, `missed-${i}`);

    // Back, on the other node, while a publisher keeps going.
    const after = await connect(b);
    let publishing = true;
    const stream = (async () => {
      let n = 0;
      while (publishing) {
        await publish(a, room, `live-${n++}`);
      }
      return n;
    })();
    await sleep(50);
    const ack = await subscribe(after, room, since);
    expect(ack).toMatchObject({ ok: true, room, recovered: true, epoch: since.epoch });
    await sleep(100);
    publishing = false;
    const live = await stream;
    const last = 11 + live;
    await waitFor(() => offsetsOf(after, room).at(-1) === last, { what: 'every live message' });
    await settle(200);
    expect(offsetsOf(after, room)).toEqual(range(2, last));
    expect(after.received.slice(0, 10).map((r) => r.envelope.data)).toEqual(
      range(0, 9).map((i) => `missed-${i}`),
    );
  });

  it('says recovered: false when the history no longer reaches back (trimmed), and replays nothing', async () => {
    const node = await start({ NODE_ID: 'trim', HISTORY_SIZE: '5' });
    const room = freshRoom('trim');
    const { epoch } = await publish(node, room, 0);
    for (let i = 1; i < 12; i++) await publish(node, room, i);
    const client = await connect(node);
    expect(await subscribe(client, room, { offset: 1, epoch })).toEqual({
      ok: true,
      room,
      offset: 12,
      epoch,
      recovered: false,
    });
    // Within the last five, it does recover.
    const recent = await connect(node);
    expect(await subscribe(recent, room, { offset: 8, epoch })).toMatchObject({ recovered: true });
    await settle();
    expect(client.received).toEqual([]);
    expect(offsetsOf(recent, room)).toEqual([9, 10, 11, 12]);
    // The stream holds no more than HISTORY_SIZE entries.
    const direct = new Redis(redisUrl);
    try {
      expect(await direct.xlen(roomLogKey(room))).toBe(5);
    } finally {
      direct.disconnect();
    }
  });

  it('says recovered: false when the epoch changed (Redis lost its data)', async () => {
    const node = await start({ NODE_ID: 'epoch' });
    const room = freshRoom('epoch');
    const { epoch } = await publish(node, room, 'before');
    const direct = new Redis(redisUrl);
    try {
      await direct.del(roomMetaKey(room), roomLogKey(room));
    } finally {
      direct.disconnect();
    }
    const after = await publish(node, room, 'after');
    expect(after.epoch).not.toBe(epoch);
    expect(after.offset).toBe(1);
    const client = await connect(node);
    expect(await subscribe(client, room, { offset: 1, epoch })).toMatchObject({
      recovered: false,
      epoch: after.epoch,
      offset: 1,
    });
  });

  it('lets a room history expire HISTORY_TTL after its last message, its offsets HISTORY_META_TTL after', async () => {
    const node = await start({ NODE_ID: 'ttl', HISTORY_TTL: '1', HISTORY_META_TTL: '3' });
    const room = freshRoom('ttl');
    const { epoch } = await publish(node, room, 'short-lived');
    await sleep(1500);
    const direct = new Redis(redisUrl);
    try {
      expect(await direct.exists(roomLogKey(room))).toBe(0);
    } finally {
      direct.disconnect();
    }
    // The history is gone: a client that missed the message cannot recover it...
    const behind = await connect(node);
    expect(await subscribe(behind, room, { offset: 0, epoch })).toEqual({
      ok: true,
      room,
      offset: 1,
      epoch,
      recovered: false,
    });
    // ...but one that had it missed nothing, and the room's offsets go on in the same epoch.
    const upToDate = await connect(node);
    expect(await subscribe(upToDate, room, { offset: 1, epoch })).toMatchObject({
      recovered: true,
      offset: 1,
      epoch,
    });
    expect(await publish(node, room, 'next')).toMatchObject({ offset: 2, epoch });
    const later = await connect(node);
    expect(await subscribe(later, room, { offset: 1, epoch })).toMatchObject({
      recovered: true,
      offset: 2,
    });
    await waitFor(() => offsetsOf(later, room).length === 1, { what: 'the replay' });
    expect(offsetsOf(later, room)).toEqual([2]);
    // HISTORY_META_TTL after the last message the room starts a new epoch.
    await sleep(3500);
    const fresh = await connect(node);
    const ack = await subscribe(fresh, room, { offset: 2, epoch });
    expect(ack).toMatchObject({ recovered: false, offset: 0 });
    expect(ack.epoch).not.toBe(epoch);
  });

  it('refuses a malformed since with bad_request', async () => {
    const node = await start({ NODE_ID: 'since' });
    const client = await connect(node);
    for (const options of [
      { since: { offset: -1, epoch: 'x' } },
      { since: { offset: 1 } },
      { since: 'x' },
      { after: 1 },
      'x',
    ]) {
      expect(
        await emitAck(client, 'subscribe', 'r', options),
        JSON.stringify(options),
      ).toMatchObject({
        ok: false,
        error: { code: 'bad_request' },
      });
    }
  });
});

describe('GET /api/rooms/:room/history', () => {
  it('serves the history to backends, in pages, and says whether it is complete', async () => {
    const node = await start({ NODE_ID: 'http-history', HISTORY_SIZE: '20' });
    const room = freshRoom('http');
    let epoch = '';
    for (let i = 1; i <= 25; i++) epoch = (await publish(node, room, i)).epoch;
    const get = (query: string, key = API_KEY) =>
      fetch(`${node.url}/api/rooms/${room}/history${query}`, {
        headers: { authorization: `Bearer ${key}` },
      });

    const page = await get(`?since=10&limit=5&epoch=${epoch}`);
    expect(page.status).toBe(200);
    const body = (await page.json()) as { messages: Array<{ event: string; envelope: Envelope }> };
    expect(body).toMatchObject({ room, offset: 25, epoch, complete: true });
    expect(body.messages.map((m) => [m.event, m.envelope.offset, m.envelope.data])).toEqual(
      range(11, 15).map((i) => ['message', i, i]),
    );
    // Trimmed to 20: offsets 6-25 are kept; since=2 has a gap.
    expect(await (await get('?since=2')).json()).toMatchObject({ complete: false });
    expect(await (await get('?since=5')).json()).toMatchObject({ complete: true });
    expect(await (await get('?since=5&epoch=another')).json()).toMatchObject({ complete: false });
    const empty = await fetch(`${node.url}/api/rooms/${freshRoom('none')}/history`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(await empty.json()).toMatchObject({ offset: 0, messages: [], complete: true });

    for (const [query, status, code] of [
      ['?since=-1', 400, 'bad_request'],
      ['?limit=0', 400, 'bad_request'],
      ['?limit=5000', 400, 'bad_request'],
      ['?epoch=not%20valid', 400, 'bad_request'],
    ] as const) {
      const response = await get(query);
      expect(response.status, query).toBe(status);
      expect(await response.json()).toMatchObject({ error: { code } });
    }
    expect((await get('', 'wrong-key-wrong-key')).status).toBe(401);
    const badRoom = await fetch(`${node.url}/api/rooms/bad%20room/history`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(badRoom.status).toBe(400);
    expect(await badRoom.json()).toMatchObject({ error: { code: 'invalid_room' } });
  });
});

describe('the client library', () => {
  it('recovers by itself after its node restarts, on whichever node it lands, each message once', async () => {
    const port = await freePort();
    const other = await start({ NODE_ID: 'lib-b' });
    let first = await start({ NODE_ID: 'lib-a', PORT: String(port) });
    const room = freshRoom('lib');
    const client = new PushClient(`http://127.0.0.1:${port}`, {
      token: () => testToken(),
      transports: ['websocket'],
    });
    pushClients.push(client);
    const got: number[] = [];
    client.on('message', (envelope) => got.push(envelope.data as number));
    const changes: StatusChange[] = [];
    client.onStatus((_status, change) => changes.push(change));
    await client.subscribe(room);
    for (let i = 1; i <= 3; i++) await publish(other, room, i);
    await waitFor(() => got.length === 3, { what: 'first three' });

    await first.server.close();
    nodes.splice(nodes.indexOf(first), 1);
    for (let i = 4; i <= 8; i++) await publish(other, room, i);
    first = await start({ NODE_ID: 'lib-a2', PORT: String(port) });
    await waitFor(() => changes.some((c) => c.kind === 'resubscribed'), {
      timeoutMs: 20_000,
      what: 'resubscribed',
    });
    expect(changes).toContainEqual({
      kind: 'resubscribed',
      rooms: [room],
      failed: [],
      recovered: [room],
      notRecovered: [],
    });
    await publish(other, room, 9);
    await waitFor(() => got.length === 9, { what: 'all nine' });
    await settle();
    expect(got).toEqual(range(1, 9));
    expect(client.position(room)).toMatchObject({ offset: 9 });
  });
});

describe('a publish with an idempotencyKey', () => {
  const setups: Array<[string, () => Promise<[InProcessNode, InProcessNode]>]> = [
    [
      'on two nodes sharing Redis',
      async () => [await start({ NODE_ID: 'idem-a' }), await start({ NODE_ID: 'idem-b' })],
    ],
    [
      'on a single node without Redis',
      async () => {
        const node = await startInProcessNode({ NODE_ID: 'idem-solo', PUBLISH_API_KEYS: API_KEY });
        nodes.push(node);
        return [node, node];
      },
    ],
  ];
  it.each(setups)('is published once however often it is retried, %s', async (_name, setup) => {
    const [first, second] = await setup();
    const room = freshRoom('idem');
    const subscriber = await connect(second);
    await subscribe(subscriber, room);
    const body = { room, data: { order: 42 }, idempotencyKey: `order-42:${room}` };
    const original = await postPublish(first.url, API_KEY, body);
    expect(original.status).toBe(202);
    const receipt = (await original.json()) as { id: string; offset: number; epoch: string };
    expect(receipt).toEqual({ id: expect.any(String), offset: 1, epoch: expect.any(String) });
    // A retry, through another node or over a socket, is answered as the first publish was.
    const retry = await postPublish(second.url, API_KEY, body);
    expect(retry.status).toBe(202);
    expect(await retry.json()).toEqual({ ...receipt, duplicate: true });
    expect(await emitAck(await connect(first), 'publish', body)).toEqual({
      ok: true,
      ...receipt,
      duplicate: true,
    });
    // The key stands for that message: another one under it is refused; keys are per room.
    const other = await postPublish(first.url, API_KEY, { ...body, data: { order: 43 } });
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ error: { code: 'idempotency_conflict' } });
    const elsewhere = await postPublish(first.url, API_KEY, { ...body, room: `${room}-b` });
    expect(await elsewhere.json()).toEqual({
      id: expect.any(String),
      offset: 1,
      epoch: expect.any(String),
    });
    // Subscribers got it once.
    await publish(first, room, 'next');
    await waitFor(() => offsetsOf(subscriber, room).length === 2, { what: 'the next message' });
    await settle();
    expect(
      subscriber.received.map((r) => [r.envelope.offset, r.envelope.id, r.envelope.data]),
    ).toEqual([
      [1, receipt.id, { order: 42 }],
      [2, expect.any(String), 'next'],
    ]);
  });
});

describe('the room log in Redis', () => {
  it('appends a message once when its command runs twice (ioredis resends unanswered ones)', async () => {
    const redisClient = new Redis(redisUrl);
    const subscriber = new Redis(redisUrl);
    const log = new RedisRoomLog(
      redisClient,
      subscriber,
      false,
      { size: 10, ttlSeconds: 60, metaTtlSeconds: 60 },
      createLogger('resend', 'silent'),
    );
    try {
      const room = freshRoom('resend');
      const envelope = { id: randomUUID(), room, data: 1, node: 'resend', ts: Date.now() };
      const first = await log.append(room, 'message', envelope);
      expect(first).toEqual({
        kind: 'appended',
        position: { offset: 1, epoch: expect.any(String) },
      });
      expect(await log.append(room, 'message', envelope)).toEqual(first);
      const slice = await log.read(room, 0, 10);
      expect(slice.position.offset).toBe(1);
      expect(slice.messages.map((m) => m.envelope.id)).toEqual([envelope.id]);
    } finally {
      await log.close();
      redisClient.disconnect();
      subscriber.disconnect();
    }
  });
});

describe('a single node without Redis', () => {
  it('keeps history in memory: a client that reconnects to it recovers', async () => {
    const node = await startInProcessNode({ NODE_ID: 'solo-history', PUBLISH_API_KEYS: API_KEY });
    nodes.push(node);
    const room = freshRoom('solo');
    const client = await connect(node);
    const { epoch } = await subscribe(client, room);
    client.close();
    for (let i = 1; i <= 4; i++) await publish(node, room, i);
    const back = await connect(node);
    expect(await subscribe(back, room, { offset: 0, epoch: epoch as string })).toMatchObject({
      recovered: true,
      offset: 4,
    });
    await settle();
    expect(back.received.map((r) => r.envelope.data)).toEqual([1, 2, 3, 4]);
  });
});
