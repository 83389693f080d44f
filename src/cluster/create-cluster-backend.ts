import type { Logger } from '../observability/logger.js';
import type { BackendOptions, ClusterBackend } from './cluster-backend.js';
import { memoryBackend } from './memory/memory-backend.js';
import { redisBackend } from './redis/redis-backend.js';

/** Where the cluster's state lives: a Redis, a Redis Cluster, or this process (one node). */
export interface BackendChoice extends BackendOptions {
  redisUrl: string | undefined;
  /** A Redis Cluster's seed nodes (`host:port`); never set together with `redisUrl`. */
  redisClusterNodes: readonly string[] | undefined;
}

/**
 * The one place that chooses the backend: a Redis Cluster when seed nodes are configured, Redis
 * when a URL is, otherwise the embedded single node. Every part comes from what it returns.
 */
export function createClusterBackend(choice: BackendChoice, logger: Logger): ClusterBackend {
  if (choice.redisClusterNodes !== undefined) {
    return redisBackend({ clusterNodes: choice.redisClusterNodes }, choice, logger);
  }
  if (choice.redisUrl !== undefined) return redisBackend({ url: choice.redisUrl }, choice, logger);
  return memoryBackend(choice);
}
