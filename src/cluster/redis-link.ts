import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import type { Server } from 'socket.io';
import type { Logger } from '../observability/logger.js';
import type { ClusterLink } from './cluster-link.js';
import { watchLiveness } from './redis-liveness.js';

/** How long `close()` waits for a clean `QUIT` before dropping the connection. */
const QUIT_TIMEOUT_MS = 2000;

/**
 * Shares broadcasts through Redis pub/sub with `@socket.io/redis-adapter`: one publishing
 * connection and a `duplicate()` for subscriptions. Both reconnect on their own; every state
 * change is logged once (not every retry).
 */
export class RedisLink implements ClusterLink {
  readonly kind = 'redis';
  readonly redis: Redis;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly stopWatching: Array<() => void>;

  /**
   * Connects at once; failures are logged and retried by ioredis while the node keeps serving
   * (not ready) until Redis answers.
   *
   * @param url - `redis://` or `rediss://` URL.
   * @param logger - receives connection state changes.
   */
  constructor(url: string, logger: Logger) {
    this.pub = new Redis(url, { connectionName: 'push-pub' });
    this.sub = this.pub.duplicate({ connectionName: 'push-sub' });
    this.redis = this.pub;
    watch(this.pub, 'pub', logger);
    watch(this.sub, 'sub', logger);
    // A partition leaves connections "ready" but dead: found by pinging, then reconnected (so the
    // node reports not ready and refuses publishes instead of hanging).
    this.stopWatching = [watchLiveness(this.pub), watchLiveness(this.sub)];
  }

  attach(io: Server): void {
    io.adapter(createAdapter(this.pub, this.sub));
  }

  isReady(): boolean {
    return this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  status(): string {
    return this.isReady() ? 'ready' : `pub ${this.pub.status}, sub ${this.sub.status}`;
  }

  async close(): Promise<void> {
    for (const stop of this.stopWatching) stop();
    await Promise.all([quit(this.pub), quit(this.sub)]);
  }
}

function watch(client: Redis, role: string, logger: Logger): void {
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
}

async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  const timeout = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), QUIT_TIMEOUT_MS).unref(),
  );
  const result = await Promise.race([client.quit().catch(() => 'failed' as const), timeout]);
  if (result !== 'OK') client.disconnect();
}
