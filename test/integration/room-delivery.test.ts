import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { compileRoomPatterns } from '../../src/auth/room-pattern.js';
import { MemoryPresence } from '../../src/cluster/memory/memory-presence.js';
import type {
  AppendResult,
  HistorySlice,
  RoomLog,
  RoomMessage,
} from '../../src/cluster/room-log.js';
import { UNLIMITED_USER_CONNECTIONS } from '../../src/cluster/user-connection-limiter.js';
import type { Publisher } from '../../src/delivery/publisher.js';
import { createLogger } from '../../src/observability/logger.js';
import { NodeMetrics } from '../../src/observability/metrics.js';
import type { RoomPosition } from '../../src/protocol/index.js';
import { createConnectionHandler } from '../../src/realtime/connection-handler.js';
import { EventRateLimit } from '../../src/realtime/event-rate-limit.js';
import type { PushIo, PushSocket } from '../../src/realtime/push-io.js';
import { RecentMessages } from '../../src/realtime/recent-messages.js';
import { RoomDelivery } from '../../src/realtime/room-delivery.js';
import { roomKey } from '../../src/realtime/room-key.js';
import { RoomPresence } from '../../src/realtime/room-presence.js';
import { connectClient, settle, type TestClient } from '../support/test-client.js';
import { waitFor } from '../support/wait.js';

/**
 * The recovery race, made deterministic: live messages arrive while a recovering client's
 * history is still being read. A room log whose reads wait for the test to release them stands in
 * for Redis; the Socket.IO server and clients are real.
 */
const EPOCH = 'epoch-1';
const ROOM = 'race';

class ControlledLog implements RoomLog {
  listener: ((message: RoomMessage) => void) | undefined;
  resyncListener: (() => void) | undefined;
  readonly history: RoomMessage[] = [];
  private readonly releases: Array<() => void> = [];
  readStarted = false;
  /** Reads wait for {@link finishRead} while set; otherwise they answer at once. */
  holding = true;
  /**
   * What a read answers: the history as of its end (default), or as of its start, as Redis
   * answers a read that is then slow to reach the node.
   */
  snapshot: 'start' | 'end' = 'end';
  /** Reads fail (Redis unreachable) while set. */
  failing = false;
  /** The oldest offset the history still holds (as if trimmed below it). */
  oldest = 1;

  message(offset: number): RoomMessage {
    return {
      room: ROOM,
      event: 'message',
      envelope: {
        id: `m${offset}`,
        room: ROOM,
        data: offset,
        node: 't',
        ts: 0,
        offset,
        epoch: EPOCH,
      },
    };
  }
  /** `follow` and `position` never answer while set (a command stuck on a Redis gone away). */
  stuck = false;

  /** `follow` answers only when {@link confirmFollow} is called, while set. */
  slowFollow = false;
  private readonly followers: Array<() => void> = [];

  follow(_room: string): Promise<void> | undefined {
    if (this.stuck) return new Promise<void>(() => {});
    if (!this.slowFollow) return undefined;
    return new Promise<void>((resolve) => this.followers.push(resolve));
  }
  /** The room log confirms, late, every follow asked so far. */
  confirmFollow(): void {
    for (const resolve of this.followers.splice(0)) resolve();
  }
  unfollow(_room: string): void {}
  /** Publishes `offset`: into the history, and live to the node. */
  publish(offset: number): void {
    const message = this.message(offset);
    this.history.push(message);
    this.listener?.(message);
  }
  /** Publishes `offset` into the history only: the node's live feed misses it. */
  publishUnseen(offset: number): void {
    this.history.push(this.message(offset));
  }
  /** The live feed brings `offset`, already in the history, late. */
  bringLate(offset: number): void {
    this.listener?.(this.message(offset));
  }
  async append(): Promise<AppendResult> {
    throw new Error('not used');
  }
  position(): Promise<RoomPosition> {
    if (this.stuck) return new Promise<RoomPosition>(() => {});
    return Promise.resolve({ offset: this.history.length, epoch: EPOCH });
  }
  async read(_room: string, after: number): Promise<HistorySlice> {
    this.readStarted = true;
    const atStart = [...this.history];
    if (this.holding) {
      await new Promise<void>((resolve) => {
        this.releases.push(resolve);
      });
    }
    if (this.failing) throw new Error('Redis is unreachable');
    const history = this.snapshot === 'start' ? atStart : this.history;
    return {
      position: { offset: history.length, epoch: EPOCH },
      messages: history.filter((m) => (m.envelope.offset ?? 0) > Math.max(after, this.oldest - 1)),
      oldestOffset: this.oldest,
    };
  }
  /** Lets the oldest read still waiting answer. */
  finishRead(): void {
    this.releases.shift()?.();
  }
  get pendingReads(): number {
    return this.releases.length;
  }
  onMessage(listener: (message: RoomMessage) => void): void {
    this.listener = listener;
  }
  onResync(listener: () => void): void {
    this.resyncListener = listener;
  }
  async close(): Promise<void> {}
}

let http: HttpServer | undefined;
let io: PushIo | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await io?.close();
  http?.closeAllConnections();
});

/**
 * A Socket.IO server whose room deliveries go through a {@link ControlledLog}. With `handler`, its
 * connections are served by the node's connection handler (every one user `u`'s, presence on
 * every room, `presence` kept in memory); otherwise they are only welcomed.
 */
async function setUp(recent?: RecentMessages, readTimeoutMs?: number, handler = false) {
  http = createServer();
  io = new Server(http) as PushIo;
  const log = new ControlledLog();
  const logger = createLogger('t', 'silent');
  const metrics = new NodeMetrics('t', {
    connectionsByTransport: () => ({}),
    rooms: () => ({ rooms: 0, subscriptions: 0 }),
    redisUp: () => true,
  });
  const delivery = new RoomDelivery(io, log, 100, metrics, logger, recent, readTimeoutMs);
  const presence = new MemoryPresence();
  const sockets: PushSocket[] = [];
  if (handler) {
    const rateLimit = new EventRateLimit(1000, 1000);
    io.use((socket, next) => {
      const patterns = compileRoomPatterns(['*']);
      socket.data = {
        identity: {
          userId: 'u',
          guest: false,
          rooms: patterns,
          publish: patterns,
          plainRooms: undefined,
          expiresAt: null,
          admin: false,
        },
        ...rateLimit.initial(),
      };
      next();
    });
    const connections = createConnectionHandler({
      nodeId: 't',
      publisher: {} as Publisher,
      verifier: undefined,
      userConnections: UNLIMITED_USER_CONNECTIONS,
      rateLimit,
      metrics,
      rooms: delivery,
      presence: new RoomPresence(io, presence, compileRoomPatterns(['*']), logger),
      welcomeReplay: 100,
      logger,
    });
    io.on('connection', (socket) => {
      sockets.push(socket);
      connections.onConnection(socket);
    });
  } else {
    io.on('connection', (socket) => {
      sockets.push(socket);
      socket.emit('welcome', { node: 't', sid: socket.id, user: 'u', guest: true });
    });
  }
  await new Promise<void>((resolve) => http?.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const connect = async () => {
    const client = await connectClient(url, { transports: ['websocket'] });
    clients.push(client);
    await waitFor(() => sockets.length === clients.length, { what: 'server socket' });
    return { client, socket: sockets.at(-1) as PushSocket };
  };
  return { log, delivery, connect, presence };
}

describe('joining a room while its messages keep coming', () => {
  it('gives a recovering client its history, then the live messages held meanwhile: no gap, no duplicate, in order', async () => {
    const { log, delivery, connect } = await setUp();
    const { client: bystander, socket: bystanderSocket } = await connect();
    await delivery.join(bystanderSocket, ROOM, undefined);
    for (let offset = 1; offset <= 5; offset++) log.publish(offset);

    const { client, socket } = await connect();
    // It last saw offset 2; while its history is read, 6 to 9 arrive live.
    const joined = delivery.join(socket, ROOM, { offset: 2, epoch: EPOCH });
    await waitFor(() => log.readStarted, { what: 'the read' });
    for (let offset = 6; offset <= 9; offset++) log.publish(offset);
    // The bystander is not held back by someone else's recovery.
    await waitFor(() => bystander.received.length === 9, { what: 'bystander live' });
    expect(client.received).toEqual([]);
    log.finishRead();
    expect(await joined).toEqual({ position: { offset: 9, epoch: EPOCH }, recovered: true });
    log.publish(10);
    await waitFor(() => client.received.length === 8, { what: 'history, held and live' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("gives a recovering client once what its history read had before the node's feed brought it", async () => {
    const { log, delivery, connect } = await setUp();
    const { client: bystander, socket: bystanderSocket } = await connect();
    await delivery.join(bystanderSocket, ROOM, undefined);
    for (let offset = 1; offset <= 3; offset++) log.publish(offset);
    await waitFor(() => bystander.received.length === 3, { what: 'the bystander live' });
    const { client, socket } = await connect();
    // 4 and 5 are in the history when it is read; the feed brings them after the read's answer
    // (they come over another connection).
    log.publishUnseen(4);
    log.publishUnseen(5);
    log.holding = false;
    expect(await delivery.join(socket, ROOM, { offset: 1, epoch: EPOCH })).toMatchObject({
      recovered: true,
    });
    log.bringLate(4);
    log.bringLate(5);
    log.publish(6);
    await waitFor(
      () => bystander.received.length === 6 && client.received.at(-1)?.envelope.offset === 6,
      { what: 'offset 6 on both' },
    );
    await settle(100);
    expect(client.received.map((r) => r.envelope.offset)).toEqual([2, 3, 4, 5, 6]);
    expect(bystander.received.map((r) => r.envelope.offset)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('with batch, hands history and held live messages over in the outcome, none as events', async () => {
    const { log, delivery, connect } = await setUp();
    for (let offset = 1; offset <= 5; offset++) log.publish(offset);
    const { client, socket } = await connect();
    const joined = delivery.join(socket, ROOM, { offset: 2, epoch: EPOCH }, true);
    await waitFor(() => log.readStarted, { what: 'the read' });
    log.snapshot = 'start';
    log.publish(6);
    log.finishRead();
    const outcome = await joined;
    expect(outcome).toMatchObject({ position: { offset: 5, epoch: EPOCH }, recovered: true });
    expect(outcome.messages?.map((m) => m.envelope.offset)).toEqual([3, 4, 5, 6]);
    log.publish(7);
    await waitFor(() => client.received.length === 1, { what: 'offset 7' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([7]);
  });

  it('keeps live messages published after the read in order after the history', async () => {
    const { log, delivery, connect } = await setUp();
    for (let offset = 1; offset <= 3; offset++) log.publish(offset);
    const { client, socket } = await connect();
    const joined = delivery.join(socket, ROOM, { offset: 0, epoch: EPOCH });
    await waitFor(() => log.readStarted, { what: 'the read' });
    log.finishRead();
    await joined;
    log.publish(4);
    await waitFor(() => client.received.length === 4, { what: 'four' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([1, 2, 3, 4]);
  });

  it('delivers the held live messages even when the history does not reach back', async () => {
    const { log, delivery, connect } = await setUp();
    const { client, socket } = await connect();
    const joined = delivery.join(socket, ROOM, { offset: 0, epoch: 'an-old-epoch' });
    await waitFor(() => log.readStarted, { what: 'the read' });
    log.publish(1);
    log.publish(2);
    log.finishRead();
    expect(await joined).toMatchObject({ recovered: false });
    await waitFor(() => client.received.length === 2, { what: 'held live messages' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([1, 2]);
  });
});

describe('recovering from what the node delivered last', () => {
  it('needs no history read when the node holds what the client missed: then live, in order', async () => {
    const { log, delivery, connect } = await setUp(
      new RecentMessages({ messages: 100, bytes: 1e6 }, 1e6, 60_000),
    );
    const { client: bystander, socket: bystanderSocket } = await connect();
    await delivery.join(bystanderSocket, ROOM, undefined);
    for (let offset = 1; offset <= 5; offset++) log.publish(offset);
    await waitFor(() => bystander.received.length === 5, { what: 'bystander' });
    const { client, socket } = await connect();
    expect(await delivery.join(socket, ROOM, { offset: 2, epoch: EPOCH }, true)).toMatchObject({
      position: { offset: 5, epoch: EPOCH },
      recovered: true,
      messages: [3, 4, 5].map((offset) => ({ event: 'message', envelope: { offset } })),
    });
    expect(log.readStarted).toBe(false);
    // A fresh subscriber learns where the room stands here, without Redis either.
    const { socket: fresh } = await connect();
    expect(await delivery.join(fresh, ROOM, undefined)).toEqual({
      position: { offset: 5, epoch: EPOCH },
    });
    log.publish(6);
    await waitFor(() => client.received.length === 1, { what: 'offset 6' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([6]);
    // Further back than the node holds: from the history.
    const { socket: far } = await connect();
    const joined = delivery.join(far, ROOM, { offset: 0, epoch: 'another-epoch' });
    await waitFor(() => log.readStarted, { what: 'the read' });
    log.finishRead();
    expect(await joined).toMatchObject({ recovered: false });
  });
});

describe('a client that asks to recover again before its first recovery is answered', () => {
  it('gets every message in order from the two answers: none is sent ahead of an older one', async () => {
    const { log, delivery, connect } = await setUp();
    log.snapshot = 'start';
    for (let offset = 1; offset <= 3; offset++) log.publish(offset);
    const { client, socket } = await connect();
    const first = delivery.join(socket, ROOM, { offset: 0, epoch: EPOCH });
    log.publish(4);
    const second = delivery.join(socket, ROOM, { offset: 0, epoch: EPOCH });
    await waitFor(() => log.pendingReads === 2, { what: 'two reads' });
    log.publish(5);
    log.finishRead();
    await first;
    // Published while the second recovery is still under way: held for it, not sent ahead.
    log.publish(6);
    log.finishRead();
    await second;
    log.publish(7);
    await waitFor(() => client.received.some((r) => r.envelope.offset === 7), { what: 'offset 7' });
    // A client keeps what is newer than what it has: it must see every offset that way.
    const kept: number[] = [];
    for (const { envelope } of client.received) {
      const offset = envelope.offset ?? 0;
      if (offset > (kept.at(-1) ?? 0)) kept.push(offset);
    }
    expect(kept).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('a recovery whose history cannot be read (Redis down)', () => {
  it('says so, and leaves the room again when the client was not in it', async () => {
    const { log, delivery, connect } = await setUp();
    log.holding = false;
    log.failing = true;
    const { client, socket } = await connect();
    expect(await delivery.join(socket, ROOM, { offset: 3, epoch: EPOCH })).toEqual({
      position: undefined,
      unreadable: true,
      left: true,
    });
    expect(socket.rooms.has(roomKey(ROOM))).toBe(false);
    log.publish(1);
    await settle(100);
    expect(client.received).toEqual([]);
  });

  it('says so when the read never answers, once the read timeout is over', async () => {
    const { log, delivery, connect } = await setUp(undefined, 300);
    // The read is never released: a command stuck on a Redis that went away.
    const { client, socket } = await connect();
    const started = Date.now();
    expect(await delivery.join(socket, ROOM, { offset: 3, epoch: EPOCH })).toEqual({
      position: undefined,
      unreadable: true,
      left: true,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(socket.rooms.has(roomKey(ROOM))).toBe(false);
    log.holding = false;
    log.publish(1);
    await settle(100);
    expect(client.received).toEqual([]);
  });

  it('keeps a client that was in the room in it, with the live messages that came meanwhile', async () => {
    const { log, delivery, connect } = await setUp();
    const { client, socket } = await connect();
    log.holding = false;
    await delivery.join(socket, ROOM, undefined);
    log.publish(1);
    log.holding = true;
    log.failing = true;
    const joined = delivery.join(socket, ROOM, { offset: 0, epoch: EPOCH });
    await waitFor(() => log.pendingReads === 1, { what: 'the read' });
    log.publish(2);
    log.finishRead();
    expect(await joined).toMatchObject({ unreadable: true });
    log.publish(3);
    await waitFor(() => client.received.length === 3, { what: 'three' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([1, 2, 3]);
    expect(socket.rooms.has(roomKey(ROOM))).toBe(true);
  });
});

describe('a batched answer that never reaches its client (left out of a welcome)', () => {
  it("lets the feed's late copies of what it carried reach the client", async () => {
    const { log, delivery, connect } = await setUp();
    log.holding = false;
    // The history has 1 to 3; the node's feed brings them only after the read.
    for (let offset = 1; offset <= 3; offset++) log.publishUnseen(offset);
    const { client, socket } = await connect();
    const joined = await delivery.join(socket, ROOM, { offset: 0, epoch: EPOCH }, true);
    expect(joined.messages?.map(({ envelope }) => envelope.offset)).toEqual([1, 2, 3]);
    delivery.answerDropped(socket, ROOM);
    log.bringLate(2);
    log.bringLate(3);
    log.publish(4);
    await waitFor(() => client.received.some((r) => r.envelope.offset === 4), { what: 'offset 4' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([2, 3, 4]);
  });
});

describe('a client that leaves a room and joins it again', () => {
  it('gets the messages an earlier recovery had given it ahead of the feed', async () => {
    const { log, delivery, connect } = await setUp();
    log.holding = false;
    const { socket: bystanderSocket } = await connect();
    await delivery.join(bystanderSocket, ROOM, undefined);
    log.publish(1);
    // The history has 2 and 3 before the node's feed brings them.
    log.publishUnseen(2);
    log.publishUnseen(3);
    const { client, socket } = await connect();
    await delivery.join(socket, ROOM, { offset: 0, epoch: EPOCH }, true);
    // Unsubscribed, then subscribed afresh: answered where the node's feed stands (1).
    socket.leave(roomKey(ROOM));
    expect(await delivery.join(socket, ROOM, undefined)).toEqual({
      position: { offset: 1, epoch: EPOCH },
    });
    log.bringLate(2);
    log.bringLate(3);
    await waitFor(() => client.received.length === 2, { what: 'offsets 2 and 3' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([2, 3]);
  });

  it('stays in it when an older recovery of the room then fails', async () => {
    const { log, delivery, connect } = await setUp();
    const { socket: bystanderSocket } = await connect();
    log.holding = false;
    await delivery.join(bystanderSocket, ROOM, undefined);
    log.publish(1);
    log.holding = true;
    log.failing = true;
    const { client, socket } = await connect();
    const older = delivery.join(socket, ROOM, { offset: 0, epoch: EPOCH });
    await waitFor(() => log.pendingReads === 1, { what: 'the read' });
    // Unsubscribed, then subscribed afresh while that read is still out.
    socket.leave(roomKey(ROOM));
    await delivery.join(socket, ROOM, undefined);
    log.finishRead();
    expect(await older).toEqual({ position: undefined, unreadable: true });
    expect(socket.rooms.has(roomKey(ROOM))).toBe(true);
    log.publish(2);
    await waitFor(() => client.received.some((r) => r.envelope.offset === 2), { what: 'offset 2' });
  });
});

describe('a room log that never answers (a command stuck on a Redis gone away)', () => {
  it('holds neither a join nor the following of a room past the read timeout', async () => {
    const { log, delivery, connect } = await setUp(undefined, 300);
    log.stuck = true;
    const { socket } = await connect();
    const started = Date.now();
    await delivery.follow('elsewhere');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    // Joined at once; where the room stands is not known.
    expect(await delivery.join(socket, ROOM, undefined)).toEqual({ position: undefined });
    expect(socket.rooms.has(roomKey(ROOM))).toBe(true);
  });

  it('catches a room joined meanwhile up once it is followed at last: nothing published in between is missed', async () => {
    const { log, delivery, connect } = await setUp(undefined, 300);
    log.holding = false;
    log.publish(1);
    log.slowFollow = true;
    const { client, socket } = await connect();
    // Answered after the timeout, from where the room stands in the log.
    expect(await delivery.join(socket, ROOM, undefined)).toEqual({
      position: { offset: 1, epoch: EPOCH },
    });
    // Published while the node does not receive the room yet; nothing after it.
    log.publishUnseen(2);
    log.confirmFollow();
    await waitFor(() => client.received.length === 1, { what: 'offset 2' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([2]);
  });

  it('answers a recovery within one timeout when both following and reading hang', async () => {
    const timeoutMs = 1000;
    const { log, delivery, connect } = await setUp(undefined, timeoutMs);
    log.slowFollow = true;
    const { socket } = await connect();
    const started = Date.now();
    expect(await delivery.join(socket, ROOM, { offset: 3, epoch: EPOCH })).toMatchObject({
      unreadable: true,
    });
    // One deadline for the whole join, not one for each step (a client waits 10 s, not 16).
    expect(Date.now() - started).toBeLessThan(2 * timeoutMs);
  });

  it("does not hold a connection's welcome for good", async () => {
    const { log, connect } = await setUp(undefined, 300, true);
    log.stuck = true;
    // A user's connection is welcomed once its own room is followed: that never answers.
    const { client } = await connect();
    expect(client.user).toBe('u');
  });
});

describe('presence, when a recovery cannot read the history', () => {
  /** Two connections of user `u`: the first in ROOM, the second recovering it (its read held, to fail). */
  async function twoConnections() {
    const { log, connect, presence } = await setUp(undefined, undefined, true);
    const first = await connect();
    await first.client.socket.emitWithAck('subscribe', ROOM);
    log.failing = true;
    const second = await connect();
    const answer = second.client.socket.emitWithAck('subscribe', ROOM, {
      since: { offset: 0, epoch: EPOCH },
    });
    // (Never answered when the connection closes first.)
    answer.catch(() => {});
    await waitFor(() => log.pendingReads === 1, { what: 'the read' });
    expect(await presence.members(ROOM)).toEqual(['u']);
    return { log, first, second, answer, presence };
  }

  it('counts a connection that disconnects meanwhile out once: the user is still there', async () => {
    const { log, first, second, presence } = await twoConnections();
    second.client.close();
    await waitFor(() => !second.socket.connected, { what: 'disconnected' });
    log.finishRead();
    await settle(100);
    expect(await presence.members(ROOM)).toEqual(['u']);
    expect(first.client.presence.filter(({ action }) => action === 'leave')).toEqual([]);
  });

  it('counts a connection that unsubscribes meanwhile out once: the user is still there', async () => {
    const { log, first, second, answer, presence } = await twoConnections();
    expect(await second.client.socket.emitWithAck('unsubscribe', ROOM)).toEqual({
      ok: true,
      room: ROOM,
    });
    log.finishRead();
    expect(await answer).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    await settle(100);
    expect(await presence.members(ROOM)).toEqual(['u']);
    expect(first.client.presence.filter(({ action }) => action === 'leave')).toEqual([]);
  });

  it('counts a connection out when the failed recovery takes it out of the room', async () => {
    const { log, first, answer, presence } = await twoConnections();
    log.finishRead();
    expect(await answer).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    await settle(100);
    expect(await presence.members(ROOM)).toEqual(['u']);
    // The first connection was the user's last one there.
    await first.client.socket.emitWithAck('unsubscribe', ROOM);
    await settle(100);
    expect(await presence.members(ROOM)).toEqual([]);
  });
});

describe("gaps in the node's own feed", () => {
  it('are filled from the history before later messages: each subscriber gets every offset once, in order', async () => {
    const { log, delivery, connect } = await setUp();
    log.holding = false;
    const { client, socket } = await connect();
    await delivery.join(socket, ROOM, undefined);
    log.publish(1);
    log.publish(2);
    log.publishUnseen(3);
    log.publishUnseen(4);
    log.publish(5);
    log.publish(6);
    await waitFor(() => client.received.length === 6, { what: 'six messages' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('are caught up when the feed comes back after a cut', async () => {
    const { log, delivery, connect } = await setUp();
    log.holding = false;
    const { client, socket } = await connect();
    await delivery.join(socket, ROOM, undefined);
    log.publish(1);
    log.publishUnseen(2);
    log.publishUnseen(3);
    log.resyncListener?.();
    await waitFor(() => client.received.length === 3, { what: 'caught up' });
    log.publish(4);
    await waitFor(() => client.received.length === 4, { what: 'live again' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([1, 2, 3, 4]);
  });

  it('whose read never answers cut the room subscribers off after the read timeout, instead of holding its messages for good', async () => {
    const { log, delivery, connect } = await setUp(undefined, 300);
    log.holding = false;
    const { client, socket } = await connect();
    await delivery.join(socket, ROOM, undefined);
    log.publish(1);
    await waitFor(() => client.received.length === 1, { what: 'the first' });
    // The feed misses 2; the read that would fill the gap never answers.
    log.holding = true;
    log.publishUnseen(2);
    const goodbye = new Promise((resolve) => client.socket.once('goodbye', resolve));
    log.publish(3);
    await waitFor(() => log.pendingReads === 1, { what: 'the gap fill' });
    expect(await goodbye).toEqual({ code: 'unavailable', message: expect.stringContaining(ROOM) });
    await waitFor(() => !client.socket.connected, { what: 'cut off' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([1]);
  });

  it('cut the room subscribers off, saying why, when the history no longer reaches back', async () => {
    const { log, delivery, connect } = await setUp();
    log.holding = false;
    const { client, socket } = await connect();
    await delivery.join(socket, ROOM, undefined);
    log.publish(1);
    for (let offset = 2; offset <= 5; offset++) log.publishUnseen(offset);
    log.oldest = 4; // 2 and 3 were trimmed
    const goodbye = new Promise((resolve) => client.socket.once('goodbye', resolve));
    log.publish(6);
    expect(await goodbye).toEqual({ code: 'unavailable', message: expect.stringContaining(ROOM) });
    await waitFor(() => !client.socket.connected, { what: 'cut off' });
    expect(client.received.map((r) => r.envelope.offset)).toEqual([1]);
  });
});
