import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { flexibleLimiter } from '../memory/memory-rate-store.js';
import type { KeyRateLimiter, RateStore } from '../rate-store.js';
import type { RedisClient } from './redis-client.js';
import { API_RATE_PREFIX } from './redis-keys.js';

/**
 * Rate counters in Redis, one budget per key for the whole cluster; while Redis is unreachable
 * each node counts on its own (the in-process limiter insures it).
 */
export class RedisRateStore implements RateStore {
  constructor(private readonly redis: RedisClient) {}

  limiter(name: string, pointsPerSecond: number): KeyRateLimiter {
    return flexibleLimiter(
      new RateLimiterRedis({
        storeClient: this.redis,
        points: pointsPerSecond,
        duration: 1,
        keyPrefix: `${API_RATE_PREFIX}:${name}`,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({
          points: pointsPerSecond,
          duration: 1,
          keyPrefix: name,
        }),
      }),
    );
  }
}
