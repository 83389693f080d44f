import type { Logger } from '../observability/logger.js';
import type { BackendOptions, ClusterBackend } from './cluster-backend.js';
import { memoryBackend } from './memory/memory-backend.js';
import { redisBackend } from './redis/redis-backend.js';

/** Where the cluster's state lives: `redisUrl` when set; otherwise this process (one node). */
export interface BackendChoice extends BackendOptions {
  redisUrl: string | undefined;
}

/**
 * The one place that chooses the backend: Redis when a URL is configured, otherwise the
 * embedded single node. Every part comes from what it returns.
 */
export function createClusterBackend(choice: BackendChoice, logger: Logger): ClusterBackend {
  return choice.redisUrl === undefined
    ? memoryBackend(choice)
    : redisBackend(choice.redisUrl, choice, logger);
}
