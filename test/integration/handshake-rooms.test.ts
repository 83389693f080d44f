import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { PushClient, PushError } from '../../src/client/index.js';
import type { Envelope, HandshakeJoin, RoomAck, Welcome } from '../../src/protocol/index.js';
import { postPublish } from '../support/http-publish.js';
import { type InProcessNode, startInProcessNode } from '../support/in-process-node.js';
import { testToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * Rooms asked for in the handshake (`auth.rooms`): a real node joins them before its `welcome`
 * and answers each there, as a batched `subscribe` would have been (what a reconnecting client
 * missed included), so that rejoining costs no round trip of its own.
 */
const API_KEY = 'handshake-rooms-test-key';
let node: InProcessNode;
const sockets: Socket[] = [];
const clients: PushClient[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const client of clients.splice(0)) client.close();
  await node?.server.close();
});

async function publish(room: string, text: string): Promise<{ offset: number; epoch: string }> {
  const response = await postPublish(node.url, API_KEY, { room, data: { text } });
  expect(response.status).toBe(202);
  return (await response.json()) as { offset: number; epoch: string };
}

/** Connects with `auth`; resolves with the welcome and the room messages received (any event). */
async function connect(auth: Record<string, unknown>) {
  const socket = io(node.url, { transports: ['websocket'], auth, forceNew: true });
  sockets.push(socket);
  const received: Envelope[] = [];
  socket.onAny((event: string, envelope: Envelope) => {
    if (event !== 'welcome') received.push(envelope);
  });
  const welcome = await new Promise<Welcome>((resolve, reject) => {
    socket.once('welcome', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, welcome, received };
}

/** A connection's `connect_error` data (it must be refused). */
async function refusal(auth: Record<string, unknown>): Promise<unknown> {
  const socket = io(node.url, {
    transports: ['websocket'],
    auth,
    forceNew: true,
    reconnection: false,
  });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect_error', (error: Error & { data?: unknown }) => resolve(error.data));
    socket.once('connect', () => reject(new Error('connected')));
  });
}

describe('rooms asked for in the handshake', () => {
  it('are joined before the welcome and answered in it: replayed since where the client left, refused as a subscribe would be', async () => {
    node = await startInProcessNode({ NODE_ID: 'hs1', PUBLISH_API_KEYS: API_KEY });
    const { epoch } = await publish('lobby', 'm1');
    for (const text of ['m2', 'm3', 'm4']) await publish('lobby', text);
    await publish('news', 'n1');

    const token = await testToken({ rooms: ['lobby', 'news', 'private:mine'] });
    const { welcome, received } = await connect({
      token,
      rooms: [
        { room: 'lobby', since: { offset: 2, epoch } },
        { room: 'news' },
        { room: 'private:other' },
        { room: 'not a room!' },
        { room: 'sports', since: { offset: -1, epoch } },
        // Asked twice: joined and answered once.
        { room: 'lobby', since: { offset: 0, epoch } },
      ],
    });
    const answers = welcome.joined as HandshakeJoin[];
    expect(answers.map(({ room }) => room)).toEqual([
      'lobby',
      'news',
      'private:other',
      'not a room!',
      'sports',
    ]);
    expect(answers[0]?.ack).toMatchObject({ ok: true, room: 'lobby', offset: 4, recovered: true });
    const replayed = answers[0]?.ack.ok ? (answers[0].ack.messages ?? []) : [];
    expect(replayed.map(({ envelope }) => envelope.offset)).toEqual([3, 4]);
    expect(answers[1]?.ack).toMatchObject({ ok: true, room: 'news', offset: 1 });
    expect(answers[2]?.ack).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(answers[3]?.ack).toMatchObject({ ok: false, error: { code: 'invalid_room' } });
    expect(answers[4]?.ack).toMatchObject({ ok: false, error: { code: 'bad_request' } });

    // Joined: the next messages come live.
    await publish('lobby', 'm5');
    await publish('news', 'n2');
    await waitFor(() => received.length === 2, { what: 'two live messages' });
    expect(received.map(({ room, offset }) => `${room}:${offset}`).sort()).toEqual([
      'lobby:5',
      'news:2',
    ]);
  });

  it('are absent from the welcome of a connection that asked for none', async () => {
    node = await startInProcessNode({ NODE_ID: 'hs2', PUBLISH_API_KEYS: API_KEY });
    const { welcome } = await connect({ token: await testToken() });
    expect(welcome.joined).toBeUndefined();
    const guest = await connect({ rooms: [] });
    expect(guest.welcome.joined).toEqual([]);
  });

  it('refuse the connection, saying what is expected, when the list is malformed', async () => {
    node = await startInProcessNode({ NODE_ID: 'hs3', PUBLISH_API_KEYS: API_KEY });
    const token = await testToken();
    const expected = {
      code: 'bad_request',
      message: expect.stringContaining('auth.rooms must be an array of at most 20'),
    };
    expect(await refusal({ token, rooms: 'lobby' })).toEqual(expected);
    expect(await refusal({ token, rooms: [{ room: 7 }] })).toEqual(expected);
    expect(await refusal({ token, rooms: [{ room: 'lobby', extra: true }] })).toEqual(expected);
    expect(await refusal({ token, rooms: [null] })).toEqual(expected);
    const many = Array.from({ length: 21 }, (_, index) => ({ room: `room-${index}` }));
    expect(await refusal({ token, rooms: many })).toEqual(expected);
    // Twenty is fine.
    const { welcome } = await connect({ token, rooms: many.slice(0, 20) });
    expect(welcome.joined?.every(({ ack }) => ack.ok)).toBe(true);
  });

  it('carry at most one history of replayed messages in one welcome: the rooms past it are left for the client to subscribe', async () => {
    node = await startInProcessNode({
      NODE_ID: 'hs4',
      PUBLISH_API_KEYS: API_KEY,
      HISTORY_SIZE: '5',
    });
    const since = new Map<string, { offset: number; epoch: string }>();
    for (const room of ['first', 'second', 'third']) {
      for (let index = 1; index <= 3; index++) {
        const { epoch } = await publish(room, `${room}-${index}`);
        since.set(room, { offset: 0, epoch });
      }
    }
    const { socket, welcome, received } = await connect({
      rooms: [...since].map(([room, from]) => ({ room, since: from })),
    });
    // 3 + 3 is past the history's 5: only the first room is answered.
    const answered = (welcome.joined ?? []).map(({ room, ack }) => ({
      room,
      replayed: ack.ok ? (ack.messages?.length ?? 0) : -1,
    }));
    expect(answered).toEqual([{ room: 'first', replayed: 3 }]);
    // Joined all the same: the client's own subscribe replays what it missed there.
    const ack: RoomAck = await socket.emitWithAck('subscribe', 'second', {
      since: since.get('second'),
      batch: true,
    });
    expect(ack).toMatchObject({ ok: true, room: 'second', recovered: true });
    expect(ack.ok && ack.messages?.map(({ envelope }) => envelope.offset)).toEqual([1, 2, 3]);
    expect(received).toEqual([]);
  });

  it("are offered by the client library only when they can be: a JavaScript caller's bad room is refused alone", async () => {
    node = await startInProcessNode({ NODE_ID: 'hs5', PUBLISH_API_KEYS: API_KEY });
    const client = new PushClient(node.url, { transports: ['websocket'] });
    clients.push(client);
    // Before the first connection: both go with its handshake.
    const bad = client.subscribe(42 as unknown as string).catch((error: unknown) => error);
    const good = client.subscribe('lobby');
    await client.ready();
    await good;
    expect(await bad).toBeInstanceOf(PushError);
    expect(await bad).toMatchObject({ code: 'invalid_room' });
  });
});
