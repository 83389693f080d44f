import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { Server } from 'socket.io';
import type { Logger } from '../../observability/logger.js';
import type { BackendOptions, ClusterBackend } from '../cluster-backend.js';
import type { NodeReports, ReportSource } from '../node-reports.js';
import { UNLIMITED_USER_CONNECTIONS } from '../user-connection-limiter.js';
import { NodeLiveness } from './node-liveness.js';
import { PubSubProbe } from './pubsub-probe.js';
import type { RedisClient } from './redis-client.js';
import { RedisConnection } from './redis-connection.js';
import { RedisNodeReports } from './redis-node-reports.js';
import { RedisPresence } from './redis-presence.js';
import { RedisRateStore } from './redis-rate-store.js';
import { RedisRoomLog } from './redis-room-log.js';
import { redisUserConnections } from './redis-user-connections.js';

/** Where Redis is: one server (`REDIS_URL`), or a Redis Cluster's seed nodes. */
export type RedisTarget = { url: string } | { clusterNodes: readonly string[] };

/**
 * The cluster's state in Redis: a command connection (scripts, counters, reports, and the
 * adapter's publishes), a subscriber for the Socket.IO adapter (`@socket.io/redis-adapter`) and
 * one for room messages (the room log's own). The node is ready while all three are up.
 *
 * On a Redis Cluster every script's keys share a slot, room messages and the adapter's go over
 * sharded pub/sub (each channel on its own shard; the adapter's sharded flavour with one channel
 * per namespace, since room messages do not go through it), and the clients follow slots that
 * move.
 */
export function redisBackend(
  target: RedisTarget,
  options: BackendOptions,
  logger: Logger,
): ClusterBackend {
  const sharded = 'clusterNodes' in target;
  const open = (role: string) =>
    'clusterNodes' in target
      ? RedisConnection.openCluster(target.clusterNodes, role, logger)
      : RedisConnection.open(target.url, role, logger);
  const pub = open('pub');
  const sub = open('sub');
  const rooms = open('rooms');
  const redis = pub.client;
  // This process in Redis: what it counts there is dropped by the others if it dies.
  const liveness = new NodeLiveness(redis, options.nodeId);
  const roomLog = new RedisRoomLog(redis, rooms.client, sharded, options.history, logger);
  // Hears its own probes on every shard, or the node is not ready.
  const probe = new PubSubProbe(redis, rooms.client, sharded, liveness.instance, logger, () =>
    roomLog.feedRecovered(),
  );
  const presence = new RedisPresence(redis, liveness, logger);
  const max = options.maxConnectionsPerUser;
  const userConnections =
    max === 0 ? UNLIMITED_USER_CONNECTIONS : redisUserConnections(redis, liveness, max, logger);
  const reports: NodeReports[] = [];
  const isReady = () => pub.ready && sub.ready && rooms.ready && probe.healthy;
  let closing: Promise<void> | undefined;
  return {
    kind: sharded ? 'redis-cluster' : 'redis',
    instance: liveness.instance,
    roomLog,
    presence,
    userConnections,
    rateStore: new RedisRateStore(redis),
    nodeReports(source: ReportSource) {
      const filed = new RedisNodeReports(redis, liveness.instance, source, logger);
      reports.push(filed);
      return filed;
    },
    attach(io: Server) {
      // The adapter publishes (broadcasts) and unsubscribes (on close) without handling the
      // outcome: see handleOutcomes.
      handleOutcomes(pub.client, ['publish', 'spublish']);
      handleOutcomes(sub.client, ['unsubscribe', 'punsubscribe', 'sunsubscribe']);
      io.adapter(
        sharded
          ? createShardedAdapter(pub.client, sub.client, { subscriptionMode: 'static' })
          : createAdapter(pub.client, sub.client),
      );
    },
    isReady,
    status: () =>
      isReady()
        ? 'ready'
        : `pub ${pub.client.status}, sub ${sub.client.status}, rooms ${rooms.client.status}, ` +
          `probe ${probe.healthy ? 'heard' : 'not heard'}`,
    close() {
      closing ??= (async () => {
        probe.stop();
        // Each part's goodbye (withdrawn report, liveness) is worth a moment, not a hang: a
        // shard without a master would hold its commands until the cluster answers again.
        await bounded(userConnections.close());
        await bounded(presence.close());
        for (const filed of reports) await bounded(filed.close());
        await bounded(liveness.close());
        await bounded(roomLog.close());
        await Promise.all([pub.close(), sub.close(), rooms.close()]);
      })();
      return closing;
    },
  };
}

/** How long closing waits for one part's last words to Redis. */
const PART_CLOSE_TIMEOUT_MS = 2000;

function bounded(closing: Promise<void>): Promise<void> {
  return Promise.race([
    closing.catch(() => {}),
    new Promise<void>((resolve) => setTimeout(resolve, PART_CLOSE_TIMEOUT_MS).unref()),
  ]);
}

/**
 * The Socket.IO adapter sends some commands and leaves their outcome unhandled: a broadcast's
 * PUBLISH, the unsubscribes when it closes. While Redis is away they wait in ioredis's queue, and
 * are rejected when the connection gives up on them (after `maxRetriesPerRequest` reconnects, or
 * when it closes at shutdown): a rejection nobody handles ends a Node process. Here `methods` of
 * `client` get a handler that ignores the rejection (a broadcast lost while Redis is away is what
 * the adapter's at-most-once delivery allows); callers still get the same promise and its outcome.
 */
function handleOutcomes(client: RedisClient, methods: readonly string[]): void {
  const commands = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of methods) {
    const original = commands[name]?.bind(client);
    if (original === undefined) continue;
    commands[name] = (...args: unknown[]) => {
      const result = original(...args);
      result.catch(() => {});
      return result;
    };
  }
}
