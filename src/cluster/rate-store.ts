/** The verdict on one request: let through, or refused until `retryAfterMs` from now. */
export type RateVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

/** At most `pointsPerSecond` requests per second per key, counted where every node sees them. */
export interface KeyRateLimiter {
  /** Counts one request of `key`. */
  consume(key: string): Promise<RateVerdict>;
}

/** Where rate counters live: shared by the nodes in a cluster, in process for one node. */
export interface RateStore {
  /** A limiter of `pointsPerSecond` per key, its counters named after `name`. */
  limiter(name: string, pointsPerSecond: number): KeyRateLimiter;
}
