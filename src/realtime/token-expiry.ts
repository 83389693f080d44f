/**
 * Ends connections whose token expires: one timer per node that ticks every second, and the
 * connections bucketed by the second their token expires (no timer per connection).
 */
export class TokenExpiry<T> {
  private readonly due = new Map<number, Set<T>>();
  private readonly at = new Map<T, number>();
  private readonly timer: NodeJS.Timeout;

  /** @param expire - called once for each connection whose time has come. */
  constructor(private readonly expire: (connection: T) => void) {
    this.timer = setInterval(() => this.tick(Date.now()), 1000);
    this.timer.unref();
  }

  /** Expires `connection` at `expiresAt` (ms since the epoch), replacing any earlier schedule. */
  schedule(connection: T, expiresAt: number): void {
    this.cancel(connection);
    const second = Math.ceil(expiresAt / 1000);
    let bucket = this.due.get(second);
    if (bucket === undefined) {
      bucket = new Set();
      this.due.set(second, bucket);
    }
    bucket.add(connection);
    this.at.set(connection, second);
  }

  /** Forgets `connection` (it disconnected). */
  cancel(connection: T): void {
    const second = this.at.get(connection);
    if (second === undefined) return;
    this.at.delete(connection);
    const bucket = this.due.get(second);
    bucket?.delete(connection);
    if (bucket?.size === 0) this.due.delete(second);
  }

  /** Expires every connection due at or before `now`. */
  tick(now: number): void {
    const current = Math.floor(now / 1000);
    for (const [second, bucket] of this.due) {
      if (second > current) continue;
      this.due.delete(second);
      for (const connection of bucket) {
        this.at.delete(connection);
        this.expire(connection);
      }
    }
  }

  /** Stops the timer. */
  close(): void {
    clearInterval(this.timer);
  }
}
