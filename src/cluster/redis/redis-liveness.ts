import type { RedisClient } from './redis-client.js';

/** How often a connection is pinged, and how long an answer may take. */
const PING_INTERVAL_MS = 1000;
const PING_TIMEOUT_MS = 2000;

/**
 * Pings `client` every second while it is connected and reconnects it when no answer comes within
 * two seconds. A connection cut without a reset (a network partition, a host gone) otherwise
 * looks healthy for minutes: commands hang, and a subscriber receives nothing while believing it
 * is subscribed. After the reconnect ioredis resubscribes, and the connection's `ready` event
 * tells the node that its live feed may have missed messages.
 *
 * @returns a function that stops watching.
 */
export function watchLiveness(client: RedisClient): () => void {
  let waiting = false;
  const timer = setInterval(() => {
    if (waiting || client.status !== 'ready') return;
    waiting = true;
    const deadline = setTimeout(() => {
      // No answer: drop the connection and let ioredis connect again.
      if (client.status === 'ready') client.disconnect(true);
    }, PING_TIMEOUT_MS);
    client.ping().then(
      () => {
        clearTimeout(deadline);
        waiting = false;
      },
      () => {
        clearTimeout(deadline);
        waiting = false;
      },
    );
  }, PING_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
