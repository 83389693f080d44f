import { performance } from 'node:perf_hooks';
import type { ConnectionState } from './connection-state.js';

/** The outcome of {@link EventRateLimit.take}. */
export type RateDecision = 'accept' | 'refuse' | 'cut';

/**
 * A token bucket per connection on the events a client sends: `burst` at once, then `rate` per
 * second. An event over the rate is refused (`rate_limited`); a client that keeps sending past
 * another `burst` of refusals is cut off.
 *
 * The bucket is two numbers in the connection's state, refilled lazily when an event arrives: no
 * timer, no map, nothing per idle connection beyond them.
 */
export class EventRateLimit {
  /**
   * @param rate - events per second.
   * @param burst - events at once, and refusals in a row before the cut.
   */
  constructor(
    readonly rate: number,
    readonly burst: number,
  ) {}

  /** A full bucket, for a new connection. */
  initial(
    now = performance.now(),
  ): Pick<ConnectionState, 'tokens' | 'refilledAt' | 'refusedInRow'> {
    return { tokens: this.burst, refilledAt: now, refusedInRow: 0 };
  }

  /** Takes one event's token from `state`. */
  take(state: ConnectionState, now = performance.now()): RateDecision {
    state.tokens = Math.min(
      this.burst,
      state.tokens + ((now - state.refilledAt) * this.rate) / 1000,
    );
    state.refilledAt = now;
    if (state.tokens >= 1) {
      state.tokens -= 1;
      state.refusedInRow = 0;
      return 'accept';
    }
    state.refusedInRow += 1;
    return state.refusedInRow > this.burst ? 'cut' : 'refuse';
  }
}
