import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import { NODE_LIVENESS_KEY } from './redis-keys.js';

/** How often a node renews its liveness, and how long it lasts without renewal. */
const HEARTBEAT_MS = 3_000;
export const ALIVE_TTL_MS = 10_000;
/**
 * How long a dead instance is remembered: as long as its leftovers can last (a user's connection
 * counts expire a week after their last connection), so that they are dropped as they are met.
 */
const DEAD_REMEMBERED_MS = 7 * 24 * 3600_000;

/**
 * Renews an instance: its score becomes Redis's time plus the TTL (so that the nodes' clocks do
 * not matter); forgets instances dead for a week; returns the instances whose liveness ran out.
 * With a TTL of 0 the instance says it is gone. KEYS: liveness. ARGV: instance, ttl, remembered.
 */
const RENEW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
`;

/**
 * This node process in Redis: an instance id (`<NODE_ID>:<random>`, new at every start, so that
 * a restarted node inherits nothing of its previous life) whose liveness (in one sorted set, by
 * expiry on Redis's clock) is renewed every 3 s and runs out 10 s after the process dies. What a
 * node counts in Redis (user connections, presence) is filed under its instance; the others drop
 * what belongs to an instance known dead ({@link dead}): one that stopped (it says so) or whose
 * liveness ran out. An instance not known at all (just started) is never taken for dead.
 *
 * One key (in one Redis Cluster slot): the scripts that drop a dead instance's leftovers live in
 * other slots, so they are handed the dead instances instead of looking them up.
 */
export class NodeLiveness {
  readonly instance: string;
  private readonly heartbeat: NodeJS.Timeout;
  private deadInstances: readonly string[] = [];
  private readonly listeners: Array<(dead: readonly string[]) => void> = [];
  private readonly renew = () => {
    // Only while connected: commands sent meanwhile would queue until Redis is back.
    if (this.redis.status !== 'ready') return;
    (
      this.redis.eval(
        RENEW,
        1,
        NODE_LIVENESS_KEY,
        this.instance,
        ALIVE_TTL_MS,
        DEAD_REMEMBERED_MS,
      ) as Promise<string[]>
    ).then(
      (dead) => {
        this.deadInstances = dead;
        for (const listener of this.listeners) listener(dead);
      },
      () => {},
    );
  };

  constructor(
    private readonly redis: RedisClient,
    nodeId: string,
  ) {
    this.instance = `${nodeId}:${randomBytes(6).toString('base64url')}`;
    redis.on('ready', this.renew);
    this.renew();
    this.heartbeat = setInterval(this.renew, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** The instances known dead, as of the last heartbeat (at most 3 s old). */
  get dead(): readonly string[] {
    return this.deadInstances;
  }

  /** Calls `listener` with the instances known dead after every heartbeat. */
  onHeartbeat(listener: (dead: readonly string[]) => void): void {
    this.listeners.push(listener);
  }

  /** Stops renewing and says at once that this instance is gone. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.redis.off('ready', this.renew);
    if (this.redis.status !== 'ready') return;
    await this.redis
      .eval(RENEW, 1, NODE_LIVENESS_KEY, this.instance, -1, DEAD_REMEMBERED_MS)
      .catch(() => {});
  }
}
