import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis-client.js';

/** How often a connection is pinged, and how long an answer may take. */
const PING_INTERVAL_MS = 1000;
const PING_TIMEOUT_MS = 2000;
/** How long a client may stay `disconnecting` (a moment, normally) before it is connected again. */
const STUCK_DISCONNECTING_MS = 5000;

/**
 * Pings `client` (each master of a Cluster) every second while it is connected and reconnects
 * that connection when no answer comes within two seconds. A connection cut without a reset (a
 * network partition, a host gone) otherwise looks healthy for minutes: commands hang, and a
 * subscriber receives nothing while believing it is subscribed. After the reconnect ioredis resubscribes, and the connection's `ready` event
 * tells the node that its live feed may have missed messages.
 *
 * A Redis Cluster client can also stop for good: disconnecting to reconnect while it holds no
 * node connection (after a failover took its last one), it waits for connections to end that do
 * not exist and stays `disconnecting`. One that stays so for seconds is connected again
 * (`onStuck` is told); it subscribes again to every channel it had.
 *
 * @returns a function that stops watching.
 */
export function watchLiveness(client: RedisClient, onStuck: () => void = () => {}): () => void {
  const waiting = new WeakSet<Redis>();
  let disconnectingSince: number | undefined;
  const timer = setInterval(() => {
    if (client.status === 'disconnecting') {
      disconnectingSince ??= Date.now();
      if (Date.now() - disconnectingSince >= STUCK_DISCONNECTING_MS) {
        disconnectingSince = undefined;
        onStuck();
        client.connect().catch(() => {});
      }
      return;
    }
    disconnectingSince = undefined;
    if (client.status !== 'ready') return;
    // A Cluster's masters are pinged one by one: one slow shard (a master being failed over)
    // must not cut the client's connections to every other shard.
    const connections = client instanceof Cluster ? client.nodes('master') : [client];
    for (const connection of connections) ping(connection, waiting);
  }, PING_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** Pings `connection` once, unless a ping is out; reconnects it if no answer comes in time. */
function ping(connection: Redis, waiting: WeakSet<Redis>): void {
  if (waiting.has(connection) || connection.status !== 'ready') return;
  waiting.add(connection);
  const deadline = setTimeout(() => {
    // No answer: drop the connection and let ioredis connect again (a Cluster drops the node
    // and finds it, or its successor, at the next read of the slots map).
    if (connection.status === 'ready') connection.disconnect(true);
  }, PING_TIMEOUT_MS);
  const answered = () => {
    clearTimeout(deadline);
    waiting.delete(connection);
  };
  connection.ping().then(answered, answered);
}
