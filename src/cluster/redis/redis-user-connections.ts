import type { Logger } from '../../observability/logger.js';
import type { UserConnectionLimiter } from '../user-connection-limiter.js';
import type { NodeLiveness } from './node-liveness.js';
import type { RedisClient } from './redis-client.js';
import { userConnectionsKey } from './redis-keys.js';

/** A user's counts are dropped a week after their last connection (a dead node's leftovers). */
const COUNTS_TTL_S = 7 * 24 * 3600;

/**
 * Counts the live connections of a user on every node, and adds one if under the limit. Counts
 * of node instances known dead (ARGV[4…]: stopped, or killed and their liveness ran out) are
 * dropped as they are met. KEYS: the user's counts. ARGV: instance, max, ttl (s), dead….
 */
const ACQUIRE = `
local dead = {}
for i = 4, #ARGV do dead[ARGV[i]] = true end
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  local instance = fields[i]
  if dead[instance] and instance ~= ARGV[1] then
    redis.call('HDEL', KEYS[1], instance)
  else
    total = total + tonumber(fields[i + 1])
  end
end
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`;

const RELEASE = `
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
`;

/**
 * The cluster-wide limiter: counts in Redis, per node instance ({@link NodeLiveness}), so that a
 * node that dies leaves no connections counted once its liveness key expires, and a restarted
 * node does not inherit its old counts.
 *
 * While Redis is unreachable connections are let in (and logged): the node cannot count, and
 * refusing every user would be worse than letting one exceed its limit for a while.
 */
export function redisUserConnections(
  redis: RedisClient,
  liveness: NodeLiveness,
  max: number,
  logger: Logger,
): UserConnectionLimiter {
  const { instance } = liveness;
  return {
    async acquire(userId) {
      // Not connected: commands would queue until Redis is back, holding the handshake.
      if (redis.status !== 'ready') return true;
      try {
        const result = await redis.eval(
          ACQUIRE,
          1,
          userConnectionsKey(userId),
          instance,
          max,
          COUNTS_TTL_S,
          ...liveness.dead,
        );
        return result === 1;
      } catch (error) {
        logger.warn({ err: error, user: userId }, 'cannot count user connections; letting it in');
        return true;
      }
    },
    release(userId) {
      if (redis.status !== 'ready') return;
      redis.eval(RELEASE, 1, userConnectionsKey(userId), instance).catch((error: unknown) => {
        logger.warn({ err: error, user: userId }, 'cannot release a user connection count');
      });
    },
    close: async () => {},
  };
}
