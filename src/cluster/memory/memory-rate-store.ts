import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { KeyRateLimiter, RateStore, RateVerdict } from '../rate-store.js';

/** Rate counters in this process, for a single node (and as Redis's stand-in while it is away). */
export class MemoryRateStore implements RateStore {
  limiter(name: string, pointsPerSecond: number): KeyRateLimiter {
    return flexibleLimiter(
      new RateLimiterMemory({ points: pointsPerSecond, duration: 1, keyPrefix: name }),
    );
  }
}

/** A {@link KeyRateLimiter} over a `rate-limiter-flexible` limiter (its refusals are verdicts). */
export function flexibleLimiter(limiter: RateLimiterAbstract): KeyRateLimiter {
  return {
    consume: (key) =>
      limiter.consume(key).then(
        (): RateVerdict => ({ allowed: true }),
        (rejection: unknown): RateVerdict => {
          if (rejection instanceof RateLimiterRes) {
            return { allowed: false, retryAfterMs: rejection.msBeforeNext };
          }
          throw rejection;
        },
      ),
  };
}
