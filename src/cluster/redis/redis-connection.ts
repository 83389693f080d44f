import { Cluster, Redis } from 'ioredis';
import type { Logger } from '../../observability/logger.js';
import type { RedisClient } from './redis-client.js';
import { watchLiveness } from './redis-liveness.js';
import { seedLookup } from './seed-lookup.js';

/** How often a Redis Cluster client reads the slots map (a failover moves them). */
const SLOTS_REFRESH_MS = 1000;
/** How long `close()` waits for a clean `QUIT` before dropping the connection. */
const QUIT_TIMEOUT_MS = 2000;

/**
 * One connection to Redis that reconnects on its own, logs each state change once (not every
 * retry), and is pinged so that a partition (a connection "ready" but dead) is found and
 * reconnected; {@link RedisConnection.close} quits it.
 */
export class RedisConnection {
  readonly client: RedisClient;
  private readonly stopWatching: () => void;

  /**
   * @param client - connects at once; failures are logged and retried by ioredis.
   * @param role - names the connection in logs.
   */
  constructor(client: RedisClient, role: string, logger: Logger) {
    this.client = client;
    let lastError: string | undefined;
    client.on('error', (error: Error) => {
      if (error.message === lastError) return;
      lastError = error.message;
      logger.warn({ redis: role, err: error.message }, 'redis connection error');
    });
    client.on('ready', () => {
      lastError = undefined;
      logger.info({ redis: role }, 'redis connected');
    });
    client.on('close', () => {
      if (lastError === undefined) logger.warn({ redis: role }, 'redis connection closed');
    });
    this.stopWatching = watchLiveness(client, () =>
      logger.warn({ redis: role }, 'redis client stuck disconnecting: connecting it again'),
    );
  }

  /** Opens a connection to `url` named `push-<role>` (as `CLIENT LIST` shows it). */
  static open(url: string, role: string, logger: Logger): RedisConnection {
    return new RedisConnection(new Redis(url, { connectionName: `push-${role}` }), role, logger);
  }

  /**
   * Opens a Redis Cluster client from `seeds` (`host:port` or `redis://` URLs: the cluster's
   * topology is read from whichever answers), its connections named `push-<role>`. Sharded
   * pub/sub (`SSUBSCRIBE`) goes to each channel's shard, and follows slots that move.
   */
  static openCluster(seeds: readonly string[], role: string, logger: Logger): RedisConnection {
    const cluster = new Cluster([...seeds], {
      shardedSubscribers: true,
      // A subscriber sends no commands that would tell it a master changed: it reads the slots
      // map on its own, so that it subscribes again on the promoted replica within seconds.
      slotsRefreshInterval: SLOTS_REFRESH_MS,
      // A seed whose name stopped resolving (its Redis killed) must not stop reconnects.
      dnsLookup: seedLookup(),
      redisOptions: { connectionName: `push-${role}` },
    });
    return new RedisConnection(cluster, role, logger);
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Stops pinging, then quits (or drops the connection if Redis does not answer in time). */
  async close(): Promise<void> {
    this.stopWatching();
    const client = this.client;
    if (client.status === 'end') return;
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), QUIT_TIMEOUT_MS).unref(),
    );
    const result = await Promise.race([client.quit().catch(() => 'failed' as const), timeout]);
    if (result !== 'OK') client.disconnect();
  }
}
