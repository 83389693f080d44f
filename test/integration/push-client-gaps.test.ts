import { afterEach, describe, expect, it } from 'vitest';
import { PushClient, type StatusChange } from '../../src/client/index.js';
import type { HandshakeJoin, HandshakeRoom } from '../../src/protocol/index.js';
import { ScriptedNode, type SubscribeCall } from '../support/scripted-node.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * The client library never hands over a room with a silent gap: against a scripted node that
 * skips offsets, answers late, never answers, or starts the room's epoch afresh, the application
 * gets every message once and in offset order, or is told that it could not.
 */
const ROOM = 'orders';
const ACK_TIMEOUT_MS = 300;
/** The scripted node of the running test (each starts its own). */
let node: ScriptedNode;
const clients: PushClient[] = [];

interface Watched {
  client: PushClient;
  offsets: number[];
  changes: StatusChange[];
}

async function watch(url: string, user?: string): Promise<Watched> {
  const client = new PushClient(url, {
    transports: ['websocket'],
    ackTimeoutMs: ACK_TIMEOUT_MS,
    ...(user === undefined ? {} : { token: 'scripted-token' }),
  });
  clients.push(client);
  const watched: Watched = { client, offsets: [], changes: [] };
  client.on('message', (envelope) => watched.offsets.push(envelope.offset ?? -1));
  client.onStatus((_status, change) => watched.changes.push(change));
  await client.ready();
  return watched;
}

/** A client of a fresh scripted node, subscribed to ROOM, that has had its offsets 1 to `upTo`. */
async function following(upTo: number): Promise<Watched> {
  node = await ScriptedNode.start();
  const app = await watch(node.url);
  await app.client.subscribe(ROOM);
  node.sendRange(ROOM, 1, upTo);
  await waitFor(() => app.offsets.length === upTo, { what: `offsets 1-${upTo}` });
  return app;
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => from + index);

/** The replay a real node sends before answering a subscribe `since`: what followed it. */
function replay(call: SubscribeCall, upTo: number): void {
  const from = (call.since?.offset ?? 0) + 1;
  node.sendRange(call.room, from, upTo, call.since?.epoch ?? 'E1', call.socket);
  call.answer({ ok: true, room: call.room, offset: upTo, epoch: 'E1', recovered: true });
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await node?.close();
});

describe('PushClient against a scripted node: no silent gap', () => {
  it('an offset jump: holds what came ahead, recovers the missing ones on the live connection, hands over in order', async () => {
    const app = await following(3);
    const sid = app.client.sid;

    node.onSubscribe = (call) => replay(call, 6);
    // 4 and 5 never come live: the node's feed skipped them.
    node.send(ROOM, 6);
    node.send(ROOM, 7);
    await waitFor(() => app.offsets.length === 7, { what: 'offsets 1-7' });
    expect(app.offsets).toEqual(range(1, 7));
    // Asked on the same connection, since the last offset it had.
    expect(node.subscribes.at(-1)).toMatchObject({ room: ROOM, since: { offset: 3, epoch: 'E1' } });
    expect(app.client.sid).toBe(sid);
    expect(app.changes).toContainEqual({
      kind: 'gap',
      room: ROOM,
      cause: 'offsets',
      recovered: true,
    });
    expect(app.client.position(ROOM)).toEqual({ offset: 7, epoch: 'E1' });
  });

  it('an offset jump the history no longer covers: told, then goes on from the newest', async () => {
    const app = await following(2);
    node.onSubscribe = (call) =>
      call.answer({ ok: true, room: ROOM, offset: 2000, epoch: 'E1', recovered: false });
    node.send(ROOM, 1999);
    node.send(ROOM, 2000);
    await waitFor(() => app.changes.some((change) => change.kind === 'gap'), { what: 'the gap' });
    node.send(ROOM, 2001);
    await waitFor(() => app.offsets.length === 5, { what: 'offsets after the gap' });
    expect(app.offsets).toEqual([1, 2, 1999, 2000, 2001]);
    expect(app.changes).toContainEqual({
      kind: 'gap',
      room: ROOM,
      cause: 'offsets',
      recovered: false,
    });
  });

  it('a resubscribe answered after the timeout: the late answer counts, nothing skipped meanwhile', async () => {
    const app = await following(3);

    // After the reconnect: the node joins the room at once (live messages 7 and 8 flow), but
    // replays 4-6 and answers only after the client's ack timeout.
    node.onSubscribe = (call) => {
      node.sendRange(ROOM, 7, 8, 'E1', call.socket);
      setTimeout(() => replay(call, 8), ACK_TIMEOUT_MS * 2);
    };
    node.dropConnections();
    await waitFor(() => app.changes.some((change) => change.kind === 'resubscribed'), {
      timeoutMs: 10_000,
      what: 'resubscribed',
    });
    expect(app.offsets).toEqual(range(1, 8));
    expect(app.changes).toContainEqual({
      kind: 'resubscribed',
      rooms: [ROOM],
      failed: [],
      recovered: [ROOM],
      notRecovered: [],
    });
    expect([...app.client.rooms]).toEqual([ROOM]);
  });

  it('a resubscribe never answered: sent again on the live connection until answered', async () => {
    const app = await following(3);

    let asked = 0;
    node.onSubscribe = (call) => {
      asked++;
      if (asked === 1) {
        // Joined, live messages flow, but this answer is lost.
        node.sendRange(ROOM, 7, 8, 'E1', call.socket);
        return;
      }
      replay(call, 8);
    };
    node.dropConnections();
    await waitFor(() => app.offsets.length === 8, { timeoutMs: 10_000, what: 'offsets 1-8' });
    expect(app.offsets).toEqual(range(1, 8));
    const [first, second] = node.subscribes.slice(-2);
    // The second went on the same connection as the first, since the same offset.
    expect(second?.socket.id).toBe(first?.socket.id);
    expect(second?.since).toEqual({ offset: 3, epoch: 'E1' });
    await sleep(ACK_TIMEOUT_MS * 3);
    expect(app.offsets).toEqual(range(1, 8));
  });

  it('a subscribe never answered at first: the call times out, the client keeps asking and then follows the room', async () => {
    node = await ScriptedNode.start();
    const app = await watch(node.url);
    let asked = 0;
    node.onSubscribe = (call) => {
      asked++;
      if (asked > 1) call.answer({ ok: true, room: ROOM, offset: 10, epoch: 'E1' });
    };
    await expect(app.client.subscribe(ROOM)).rejects.toMatchObject({ code: 'timeout' });
    expect([...app.client.rooms]).toEqual([ROOM]);
    await waitFor(() => asked === 2, { timeoutMs: 5000, what: 'the second subscribe' });
    node.send(ROOM, 11);
    await waitFor(() => app.offsets.length === 1, { what: 'offset 11' });
    expect(app.offsets).toEqual([11]);
  });

  it('a new epoch under a live subscription is reported, and the new epoch followed from its start', async () => {
    const app = await following(3);
    node.onSubscribe = (call) => {
      node.send(ROOM, 1, 'E2', call.socket);
      call.answer({ ok: true, room: ROOM, offset: 2, epoch: 'E2', recovered: true });
    };
    // The room's history started afresh (E2); its message 1 did not come live.
    node.send(ROOM, 2, 'E2');
    node.send(ROOM, 3, 'E2');
    await waitFor(() => app.offsets.length === 6, { what: 'three messages of E2' });
    expect(app.offsets).toEqual([1, 2, 3, 1, 2, 3]);
    expect(app.changes).toContainEqual({
      kind: 'gap',
      room: ROOM,
      cause: 'epoch',
      recovered: false,
    });
    expect(node.subscribes.at(-1)?.since).toEqual({ offset: 0, epoch: 'E2' });
    expect(app.client.position(ROOM)).toEqual({ offset: 3, epoch: 'E2' });
  });

  it('duplicates are dropped and a replay overlapping live messages hands each over once', async () => {
    node = await ScriptedNode.start();
    const app = await watch(node.url);
    await app.client.subscribe(ROOM);
    node.sendRange(ROOM, 1, 3);
    node.sendRange(ROOM, 2, 4);
    await waitFor(() => app.offsets.length === 4, { what: 'offsets 1-4' });
    await sleep(100);
    expect(app.offsets).toEqual(range(1, 4));
  });

  it("the user's own room is recovered after a reconnect too", async () => {
    node = await ScriptedNode.start('alice');
    const app = await watch(node.url, 'alice');
    node.sendRange('user:alice', 1, 2);
    await waitFor(() => app.offsets.length === 2, { what: 'offsets 1-2' });
    node.onSubscribe = (call) => replay(call, 5);
    node.dropConnections();
    await waitFor(() => app.offsets.length === 5, { timeoutMs: 10_000, what: 'offsets 1-5' });
    expect(app.offsets).toEqual(range(1, 5));
    expect(node.subscribes.at(-1)).toMatchObject({
      room: 'user:alice',
      since: { offset: 2, epoch: 'E1' },
    });
  });
});

/**
 * A client of `url` (tracked for closing) whose next handshake runs a hook while it is being sent,
 * the rooms it asks for already chosen (the hook is called from the token function).
 */
function handshakeHooked(url: string) {
  let hook: (() => void) | undefined;
  const client = new PushClient(url, {
    transports: ['websocket'],
    ackTimeoutMs: ACK_TIMEOUT_MS,
    token: () => {
      const run = hook;
      hook = undefined;
      run?.();
      return 'scripted-token';
    },
  });
  clients.push(client);
  return { client, beforeNextHandshake: (next: () => void) => (hook = next) };
}

/** A node's answer to a handshake room: what followed `since` up to `upTo`, replayed in it. */
function handshakeAnswer(asked: HandshakeRoom, upTo: number): HandshakeJoin {
  const from = (asked.since?.offset ?? upTo) + 1;
  const messages = range(from, upTo).map((offset) => ({
    event: 'message',
    envelope: ScriptedNode.envelope(asked.room, offset),
  }));
  return {
    room: asked.room,
    ack: {
      ok: true,
      room: asked.room,
      offset: upTo,
      epoch: 'E1',
      ...(asked.since === undefined ? {} : { recovered: true, messages }),
    },
  };
}

describe('PushClient rejoining in its handshake', () => {
  it('asks for its rooms in the handshake and takes the answers from the welcome: no subscribe of its own', async () => {
    const app = await following(3);
    const subscribes = node.subscribes.length;
    node.onHandshake = (_socket, rooms) => rooms.map((asked) => handshakeAnswer(asked, 6));
    node.dropConnections();
    await waitFor(() => app.offsets.length === 6, { timeoutMs: 10_000, what: 'offsets 1-6' });
    expect(app.offsets).toEqual(range(1, 6));
    expect(node.handshakes.at(-1)).toEqual([{ room: ROOM, since: { offset: 3, epoch: 'E1' } }]);
    expect(node.subscribes.length).toBe(subscribes);
    await waitFor(() => app.changes.some((change) => change.kind === 'resubscribed'), {
      what: 'resubscribed',
    });
    expect(app.changes).toContainEqual({
      kind: 'resubscribed',
      rooms: [ROOM],
      failed: [],
      recovered: [ROOM],
      notRecovered: [],
    });
  });

  it('holds room messages that come before the welcome, and hands them over after what was missed, in order', async () => {
    const app = await following(3);
    node.onHandshake = (socket, rooms) => {
      // Live messages the node sent while it read the history: they overtake the welcome.
      node.sendRange(ROOM, 7, 8, 'E1', socket);
      return rooms.map((asked) => handshakeAnswer(asked, 6));
    };
    node.dropConnections();
    await waitFor(() => app.offsets.length === 8, { timeoutMs: 10_000, what: 'offsets 1-8' });
    await sleep(100);
    expect(app.offsets).toEqual(range(1, 8));
  });

  it('subscribes, since where it stands, the rooms the welcome did not answer', async () => {
    const app = await following(3);
    await app.client.subscribe('other');
    node.onHandshake = (_socket, rooms) =>
      rooms.filter(({ room }) => room === ROOM).map((asked) => handshakeAnswer(asked, 3));
    const subscribes = node.subscribes.length;
    node.dropConnections();
    await waitFor(() => node.subscribes.length === subscribes + 1, {
      timeoutMs: 10_000,
      what: "the unanswered room's subscribe",
    });
    expect(node.handshakes.at(-1)?.map(({ room }) => room)).toEqual([ROOM, 'other']);
    expect(node.subscribes.at(-1)).toMatchObject({
      room: 'other',
      since: { offset: 0, epoch: 'E1' },
    });
  });

  it('joins afresh a room left and subscribed again while its handshake was on the way: the node took it out meanwhile', async () => {
    node = await ScriptedNode.start();
    const { client, beforeNextHandshake } = handshakeHooked(node.url);
    const offsets: number[] = [];
    client.on('message', (envelope) => offsets.push(envelope.offset ?? -1));
    node.onSubscribe = (call) => call.answer({ ok: true, room: call.room, offset: 3, epoch: 'E1' });
    await client.subscribe(ROOM);
    node.onHandshake = (_socket, rooms) => rooms.map((asked) => handshakeAnswer(asked, 3));
    beforeNextHandshake(() => {
      // The unsubscribe goes once the connection is up: after the node joined the room for the
      // handshake, so the node ends up out of it.
      void client.unsubscribe(ROOM);
      void client.subscribe(ROOM);
    });
    node.dropConnections();
    await waitFor(() => node.sockets[0]?.rooms.has(ROOM) === true, {
      timeoutMs: 10_000,
      what: 'the node has the connection in the room again',
    });
    node.publish(ROOM, 4);
    await waitFor(() => offsets.includes(4), { what: 'offset 4' });
  });

  it('sends a subscribe made by a `connected` listener once, and still reports the rooms rejoined', async () => {
    const app = await following(3);
    app.client.onStatus((_status, change) => {
      if (change.kind === 'connected' && change.reconnected) {
        void app.client.subscribe('other');
      }
    });
    const subscribes = node.subscribes.length;
    node.dropConnections();
    await waitFor(() => app.changes.some((change) => change.kind === 'resubscribed'), {
      timeoutMs: 10_000,
      what: 'resubscribed',
    });
    await sleep(ACK_TIMEOUT_MS / 2);
    expect(
      node.subscribes
        .slice(subscribes)
        .map(({ room }) => room)
        .sort(),
    ).toEqual([ROOM, 'other']);
    expect(app.changes).toContainEqual({
      kind: 'resubscribed',
      rooms: [ROOM],
      failed: [],
      recovered: [],
      notRecovered: [],
    });
  });

  it("leaves a room its handshake asked for that the welcome left unanswered once it is no longer followed (another user's own room)", async () => {
    node = await ScriptedNode.start('alice');
    const app = await watch(node.url, 'alice');
    node.sendRange('user:alice', 1, 2);
    await waitFor(() => app.offsets.length === 2, { what: 'offsets 1-2' });
    // The next connection is bob's; the node joins the rooms asked for but answers none (past
    // its replay budget, say).
    node.user = 'bob';
    node.onHandshake = (socket, rooms) => {
      for (const { room } of rooms) socket.join(room);
      return [];
    };
    node.dropConnections();
    await waitFor(() => app.changes.filter((change) => change.kind === 'connected').length === 2, {
      timeoutMs: 10_000,
      what: "bob's connection",
    });
    expect(node.handshakes.at(-1)?.map(({ room }) => room)).toEqual(['user:alice']);
    await waitFor(() => node.sockets[0]?.rooms.has('user:alice') === false, {
      what: "the node takes bob's connection out of alice's room",
    });
  });

  it('leaves a room its handshake asked for when it was left before the connection was up, its unsubscribe dropped meanwhile', async () => {
    node = await ScriptedNode.start();
    const { client, beforeNextHandshake } = handshakeHooked(node.url);
    await client.subscribe(ROOM);
    node.onHandshake = (_socket, rooms) => rooms.map((asked) => handshakeAnswer(asked, 3));
    // The connection takes longer than the client waits for an answer: an unsubscribe sent
    // before it is up is dropped from Socket.IO's buffer.
    node.admissionDelayMs = ACK_TIMEOUT_MS * 2;
    let unsubscribed: Promise<unknown> | undefined;
    beforeNextHandshake(() => {
      unsubscribed = client.unsubscribe(ROOM).catch((error: unknown) => error);
    });
    node.dropConnections();
    await waitFor(() => unsubscribed !== undefined, { timeoutMs: 10_000, what: 'the handshake' });
    expect(await unsubscribed).toMatchObject({ code: 'timeout' });
    // The node joined the room for the handshake (the scripted node does as its answer says).
    await waitFor(() => node.handshakes.length === 2, { timeoutMs: 10_000, what: 'reconnected' });
    expect(node.handshakes.at(-1)?.map(({ room }) => room)).toEqual([ROOM]);
    await waitFor(() => node.unsubscribes.includes(ROOM), { what: 'the client leaves it again' });
    expect(node.sockets[0]?.rooms.has(ROOM)).toBe(false);
  });
});
