import type { Logger } from '../observability/logger.js';
import type { ClusterLink } from './cluster-link.js';
import { MemoryLink } from './memory-link.js';
import { RedisLink } from './redis-link.js';

/** Redis when a URL is configured, otherwise the embedded single-node link. */
export function createClusterLink(redisUrl: string | undefined, logger: Logger): ClusterLink {
  return redisUrl === undefined ? new MemoryLink() : new RedisLink(redisUrl, logger);
}
