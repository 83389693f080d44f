import { randomBytes } from 'node:crypto';
import type { HistoryConfig } from '../../config/config.js';
import type { Logger } from '../../observability/logger.js';
import {
  type Envelope,
  IDEMPOTENCY_WINDOW_SECONDS,
  type RoomPosition,
} from '../../protocol/index.js';
import type {
  AppendResult,
  HistorySlice,
  IdempotencyGuard,
  RoomLog,
  RoomMessage,
} from '../room-log.js';
import type { RedisClient } from './redis-client.js';
import {
  isProbeChannel,
  roomChannel,
  roomIdempotencyKey,
  roomLogKey,
  roomMetaKey,
  roomSentKey,
} from './redis-keys.js';

/** The record of an append: under the publisher's idempotency key, or under the message's id. */
const recordKey = (room: string, guard: IdempotencyGuard | undefined, id: string) =>
  guard === undefined ? roomSentKey(room, id) : roomIdempotencyKey(room, guard.key);

/**
 * How long the record of an append without an idempotency key is kept. ioredis sends again the
 * commands that were unanswered when its connection dropped, once it is back; Redis may have
 * run them already. The record makes that second run a no-op. ioredis gives up on queued
 * commands after 20 reconnect attempts (about 10 s), so a minute covers it.
 */
const RESEND_WINDOW_SECONDS = 60;

/**
 * Appends one message: the room's epoch (created with the caller's candidate when the room has
 * none), the next offset, the message text with both spliced in, the stream entry (id = offset,
 * trimmed to the history size), the expiry of both keys, and the publish on the room's channel. One
 * script, so Redis orders every room's messages once: the publish order is the offset order.
 *
 * Every append leaves a record, "offset epoch id fingerprint", for a while: while it is there,
 * the same record key appends nothing and returns the record instead (offset 0).
 *
 * KEYS: meta, log, record. ARGV: epoch candidate, history size, history ttl (s), channel, the
 * message text in three parts around the offset and the epoch, meta ttl (s), the message's
 * fingerprint, its id, the record's lifetime (s).
 */
const APPEND = `
local seen = redis.call('GET', KEYS[3])
if seen then return {0, seen} end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local message = ARGV[5] .. offset .. ARGV[6] .. epoch .. ARGV[7]
local size = tonumber(ARGV[2])
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-0', 'm', message)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call(ARGV[12], ARGV[4], message)
redis.call('SET', KEYS[3], offset .. ' ' .. epoch .. ' ' .. ARGV[10] .. ' ' .. ARGV[9], 'EX', ARGV[11])
return {offset, epoch}
`;

/**
 * Reads where a room stands (creating its epoch when it has none) and up to ARGV[3] messages
 * after offset ARGV[2], with the oldest offset still held.
 *
 * KEYS: meta, log. ARGV: epoch candidate, after, limit, meta ttl (s).
 */
const READ = `
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local entries = {}
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if tonumber(ARGV[3]) > 0 then
  entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[2] .. '-0', '+', 'COUNT', ARGV[3])
end
local oldestId = false
if oldest[1] then oldestId = oldest[1][1] end
return {meta[1], meta[2] or '0', oldestId, entries}
`;

type StreamEntry = [id: string, fields: string[]];
type ReadReply = [epoch: string, offset: string, oldestId: string | null, entries: StreamEntry[]];

/** A fresh epoch: random, short, JSON- and Redis-safe. */
function newEpoch(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * The room log in Redis: a hash (epoch, last offset), a stream (the history) and a pub/sub
 * channel per room, all three in the room's hash slot. A node subscribes to a room's channel
 * while the room has subscribers on it ({@link follow}), so that it receives its own rooms'
 * traffic, not the whole cluster's. The stream expires
 * `HISTORY_TTL` after the room's last message, the hash `HISTORY_META_TTL` after it: a room's
 * offsets go on (and a client that missed nothing still recovers) long after its history is gone.
 * Each append leaves a short-lived record, so that neither a publisher's retry (idempotency key)
 * nor ioredis resending an unanswered command appends a message twice. Appends go through the
 * given command connection; the log subscribes on a connection of its own, which ioredis
 * resubscribes to every followed room when it reconnects.
 */
export class RedisRoomLog implements RoomLog {
  private readonly listeners: Array<(message: RoomMessage) => void> = [];
  private readonly resyncListeners: Array<() => void> = [];
  /** The rooms followed: `true` once subscribed, or the subscription on its way. */
  private readonly followed = new Map<string, true | Promise<void>>();

  /**
   * @param redis - the command connection (shared with the adapter's publishes).
   * @param subscriber - the log's own connection for room channels (the log closes it).
   * @param sharded - sharded pub/sub (`SPUBLISH`, `SSUBSCRIBE`), for a Redis Cluster: a room's
   * messages then stay on its shard instead of crossing the cluster bus to every shard.
   * @param history - how much each room keeps, and for how long.
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly sharded: boolean,
    private readonly history: HistoryConfig,
    logger: Logger,
  ) {
    this.subscriber.on(sharded ? 'smessage' : 'message', (channel: string, text: string) => {
      if (isProbeChannel(channel)) return;
      let message: RoomMessage;
      try {
        message = JSON.parse(text) as RoomMessage;
        message.bytes = text.length;
      } catch (error) {
        logger.error({ err: error }, 'unreadable room message');
        return;
      }
      for (const listener of this.listeners) listener(message);
    });
    // Every `ready` after the first is a comeback: the feed was cut, messages may have passed by.
    // On a Redis Cluster, so is every resubscription after the slots moved (a failover).
    const comeback = (event: string) => {
      let before = false;
      this.subscriber.on(event, () => {
        if (before) {
          logger.warn({ event }, 'room messages feed reconnected; catching up from the history');
          for (const listener of this.resyncListeners) listener();
        }
        before = true;
      });
    };
    comeback('ready');
    if (sharded) comeback('subscribersReady');
  }

  /**
   * The feed may have missed messages although its connection never dropped (the probe went
   * unheard, and is heard again): the node catches up from the history.
   */
  feedRecovered(): void {
    for (const listener of this.resyncListeners) listener();
  }

  async append(
    room: string,
    event: string,
    envelope: Envelope,
    guard?: IdempotencyGuard,
  ): Promise<AppendResult> {
    // The message text around the two values only Redis knows: the offset and the epoch.
    const { id, data, node, ts } = envelope;
    const head =
      `{"room":${JSON.stringify(room)},"event":${JSON.stringify(event)},"envelope":{` +
      `"id":${JSON.stringify(id)},"room":${JSON.stringify(room)},"data":${JSON.stringify(data)},` +
      `"node":${JSON.stringify(node)},"ts":${ts},"offset":`;
    const [offset, epoch] = (await this.redis.eval(
      APPEND,
      3,
      roomMetaKey(room),
      roomLogKey(room),
      recordKey(room, guard, id),
      newEpoch(),
      this.history.size,
      this.history.ttlSeconds,
      roomChannel(room),
      head,
      ',"epoch":"',
      '"}}',
      this.history.metaTtlSeconds,
      guard?.fingerprint ?? '-',
      id,
      guard === undefined ? RESEND_WINDOW_SECONDS : IDEMPOTENCY_WINDOW_SECONDS,
      this.sharded ? 'SPUBLISH' : 'PUBLISH',
    )) as [number, string];
    if (offset !== 0) return { kind: 'appended', position: { offset, epoch } };
    // `epoch` is the record of the message first appended under the record key.
    const [seenOffset = '0', seenEpoch = '', seenId = '', seenFingerprint] = epoch.split(' ');
    const position = { offset: Number(seenOffset), epoch: seenEpoch };
    // This very message, sent again by ioredis after a reconnect: appended once, as answered.
    if (seenId === id) return { kind: 'appended', position };
    if (seenFingerprint !== guard?.fingerprint) return { kind: 'conflict' };
    return { kind: 'duplicate', id: seenId, position };
  }

  async position(room: string): Promise<RoomPosition> {
    return (await this.read(room, 0, 0)).position;
  }

  async read(room: string, after: number, limit: number): Promise<HistorySlice> {
    const [epoch, offsetText, oldestId, entries] = (await this.redis.eval(
      READ,
      2,
      roomMetaKey(room),
      roomLogKey(room),
      newEpoch(),
      after,
      limit,
      this.history.metaTtlSeconds,
    )) as ReadReply;
    const offset = Number(offsetText);
    const messages = entries.flatMap(([, fields]) => {
      const text = fields[fields.indexOf('m') + 1];
      if (text === undefined) return [];
      const message = JSON.parse(text) as RoomMessage;
      message.bytes = text.length;
      return [message];
    });
    return {
      position: { offset, epoch },
      messages,
      oldestOffset: oldestId === null ? offset + 1 : Number(oldestId.split('-')[0]),
    };
  }

  /** True while the subscriber connection is up (the followed rooms' messages flow). */
  get live(): boolean {
    return this.subscriber.status === 'ready';
  }

  follow(room: string): Promise<void> | undefined {
    const state = this.followed.get(room);
    if (state === true) return undefined;
    // (Redis away: nothing waits for it, see below.)
    if (state !== undefined) return this.live ? state : undefined;
    const channel = roomChannel(room);
    const subscribed = this.sharded
      ? this.subscriber.ssubscribe(channel)
      : this.subscriber.subscribe(channel);
    const subscribing = subscribed.then(
      () => {
        if (this.followed.get(room) === subscribing) this.followed.set(room, true);
      },
      (error: unknown) => {
        if (this.followed.get(room) === subscribing) this.followed.delete(room);
        throw error;
      },
    );
    this.followed.set(room, subscribing);
    if (this.live) return subscribing;
    // Redis is away: nothing waits for it. The subscription goes out when it is back, and the
    // feed's comeback makes the node catch up from the history.
    subscribing.catch(() => {});
    return undefined;
  }

  unfollow(room: string): void {
    if (!this.followed.delete(room)) return;
    // Commands on one connection run in order: a later follow's SUBSCRIBE comes after this.
    const channel = roomChannel(room);
    const unsubscribed = this.sharded
      ? this.subscriber.sunsubscribe(channel)
      : this.subscriber.unsubscribe(channel);
    unsubscribed.catch(() => {
      // Not connected: ioredis forgets the channel and does not resubscribe it.
    });
  }

  onMessage(listener: (message: RoomMessage) => void): void {
    this.listeners.push(listener);
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  async close(): Promise<void> {
    // The subscriber connection is the backend's: it closes it.
  }
}
