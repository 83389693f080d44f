import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { aliveKey } from './redis-keys.js';

/** How often a node renews its liveness, and how long it lasts without renewal. */
const HEARTBEAT_MS = 3_000;
export const ALIVE_TTL_MS = 10_000;

/**
 * This node process in Redis: an instance id (`<NODE_ID>:<random>`, new at every start, so that
 * a restarted node inherits nothing of its previous life) and a liveness key renewed every 3 s,
 * gone 10 s after the process dies. What a node counts in Redis (user connections, presence) is
 * filed under its instance; another node drops what belongs to an instance that is no longer
 * alive.
 */
export class NodeLiveness {
  readonly instance: string;
  private readonly key: string;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly renew = () => {
    // Only while connected: commands sent meanwhile would queue until Redis is back.
    if (this.redis.status === 'ready') {
      this.redis.set(this.key, '1', 'PX', ALIVE_TTL_MS).catch(() => {});
    }
  };

  constructor(
    private readonly redis: Redis,
    nodeId: string,
  ) {
    this.instance = `${nodeId}:${randomBytes(6).toString('base64url')}`;
    this.key = aliveKey(this.instance);
    redis.on('ready', this.renew);
    this.renew();
    this.heartbeat = setInterval(this.renew, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Stops renewing and says at once that this instance is gone. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.redis.off('ready', this.renew);
    if (this.redis.status === 'ready') await this.redis.del(this.key).catch(() => {});
  }
}
