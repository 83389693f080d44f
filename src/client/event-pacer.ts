/** What the server lets a connection send: `rate` events per second, `burst` at once. */
export interface EventBudget {
  rate: number;
  burst: number;
}

/**
 * Sends a connection's automatic events (the subscribes that rejoin its rooms) within the
 * server's event budget, so that a client with many rooms is never refused or cut off for
 * rejoining them: a token bucket like the server's, a little stricter, that queues what does not
 * fit and sends it as tokens come back.
 */
export class EventPacer {
  private tokens: number;
  private refilledAt: number;
  private readonly queue: Array<() => void> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly rate: number;
  private readonly burst: number;

  /** A full bucket, as the server's is for a new connection. */
  constructor(
    budget: EventBudget,
    private readonly now: () => number = Date.now,
  ) {
    // A margin for events the application sends itself, and for clocks that disagree.
    this.rate = Math.max(budget.rate * 0.8, 0.1);
    this.burst = Math.max(Math.floor(budget.burst / 2), 1);
    this.tokens = this.burst;
    this.refilledAt = now();
  }

  /** Runs `send` now if the budget allows, else as soon as it does, in order. */
  schedule(send: () => void): void {
    this.queue.push(send);
    this.drain();
  }

  /** Drops what waits (the connection is gone; the next one has a new pacer). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  /** How many sends wait for the budget. */
  get waiting(): number {
    return this.queue.length;
  }

  private drain(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
    this.refilledAt = now;
    while (this.queue.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.queue.shift()?.();
    }
    if (this.queue.length > 0 && this.timer === undefined) {
      const wait = Math.ceil(((1 - this.tokens) * 1000) / this.rate);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain();
      }, wait);
    }
  }
}
