import type { HistoryConfig } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import type { ClusterLink } from './cluster-link.js';
import { MemoryRoomLog } from './memory-room-log.js';
import { RedisRoomLog } from './redis-room-log.js';
import type { RoomLog } from './room-log.js';

/** The room log in Redis for a cluster, in this process for a single node. */
export function createRoomLog(link: ClusterLink, history: HistoryConfig, logger: Logger): RoomLog {
  return link.redis === undefined
    ? new MemoryRoomLog(history)
    : new RedisRoomLog(link.redis, history, logger);
}
